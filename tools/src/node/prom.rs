//! A parser for the Prometheus text format (0.0.4): enough for the pages
//! spate-node serves, and strict, so a page that is not one says where.

use std::collections::BTreeMap;

/// One sample line: `name{label="value",...} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A line that is not a sample or a comment.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("metrics page line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: &'static str,
}

/// Every sample of a page, in page order.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub samples: Vec<Sample>,
}

impl Page {
    pub fn parse(text: &str) -> Result<Page, ParseError> {
        let mut samples = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let sample = parse_line(line).map_err(|reason| ParseError {
                line: i + 1,
                reason,
            })?;
            samples.push(sample);
        }
        Ok(Page { samples })
    }

    fn label<'a>(sample: &'a Sample, key: &str) -> Option<&'a str> {
        sample
            .labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of an unlabelled sample.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels.is_empty())
            .map(|s| s.value)
    }

    /// The value of the sample of `name` whose label `key` is `value`.
    pub fn labelled(&self, name: &str, key: &str, value: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.name == name && Self::label(s, key) == Some(value))
            .map(|s| s.value)
    }

    /// A label's value on the first sample of `name`.
    pub fn label_of(&self, name: &str, key: &str) -> Option<String> {
        self.samples
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| Self::label(s, key))
            .map(str::to_string)
    }

    /// `name`'s samples summed per core (a sample without a `core` label,
    /// or with a non-numeric one, is skipped).
    pub fn per_core(&self, name: &str) -> BTreeMap<usize, f64> {
        let mut out = BTreeMap::new();
        for s in self.samples.iter().filter(|s| s.name == name) {
            if let Some(core) = Self::label(s, "core").and_then(|c| c.parse().ok()) {
                *out.entry(core).or_insert(0.0) += s.value;
            }
        }
        out
    }

    /// The samples of `name` with their labels.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }
}

fn parse_line(line: &str) -> Result<Sample, &'static str> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("a sample needs a value")?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err("bad metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let (parsed, remaining) = parse_labels(after)?;
        labels = parsed;
        rest = remaining;
    }
    // The value, then an optional timestamp.
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("a sample needs a value")?;
    let value = parse_value(value).ok_or("the value is not a number")?;
    if fields.nth(1).is_some() {
        return Err("extra fields after the timestamp");
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

type Labels<'a> = (Vec<(String, String)>, &'a str);

/// Parses `key="value",...}` and returns what follows the brace.
fn parse_labels(mut s: &str) -> Result<Labels<'_>, &'static str> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let eq = s.find('=').ok_or("a label needs =")?;
        let key = s[..eq].trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err("bad label name");
        }
        let after = s[eq + 1..]
            .trim_start()
            .strip_prefix('"')
            .ok_or("a label value needs quotes")?;
        let (value, rest) = quoted(after)?;
        labels.push((key.to_string(), value));
        s = rest.trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// The text up to the closing quote, unescaped, and what follows it.
fn quoted(s: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, c @ ('\\' | '"'))) => value.push(c),
                _ => return Err("bad escape in a label value"),
            },
            c => value.push(c),
        }
    }
    Err("unterminated label value")
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels() {
        let page = Page::parse(
            "# HELP x y\n# TYPE x counter\nx 3\ny{core=\"1\",le=\"+Inf\"} 4 1700000000\n\
             z{msg=\"a \\\"q\\\" b\"} +Inf\n",
        )
        .expect("parses");
        assert_eq!(page.value("x"), Some(3.0));
        assert_eq!(page.labelled("y", "le", "+Inf"), Some(4.0));
        assert_eq!(page.per_core("y").get(&1), Some(&4.0));
        assert_eq!(page.label_of("z", "msg").as_deref(), Some("a \"q\" b"));
    }

    #[test]
    fn a_line_that_is_not_a_sample_says_where() {
        let err = Page::parse("x 1\n<html>\n").expect_err("html");
        assert_eq!(err.line, 2);
        assert!(Page::parse("x{a=\"1\" 2").is_err());
        assert!(Page::parse("x{a=1} 2").is_err());
        assert!(Page::parse("x one").is_err());
    }
}

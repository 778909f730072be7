//! `--report DIR`: the run's JSON (`report.json`) and a page to read it
//! (`report.html`): a summary table, latency by percentile, latency over
//! time (per-second p50, p99, max) and throughput over time.
//!
//! The page stands alone: charts are inline SVG drawn here, styles are
//! inline, the JSON is embedded in a `<script type="application/json">`
//! block (for anyone who wants to re-plot it), and nothing is fetched: no
//! script, font, stylesheet or image from anywhere, so it opens the same
//! offline, from a CI artifact or an email.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::append::AppendReport;

/// Writes `report.json` (`json`) and `report.html` (drawn from `reports`,
/// one per driver) into `dir`, creating it if needed.
pub fn write_report(
    dir: &Path,
    json: &impl Serialize,
    reports: &[AppendReport],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let text = serde_json::to_string_pretty(json)?;
    let json_path = dir.join("report.json");
    std::fs::write(&json_path, format!("{text}\n"))
        .with_context(|| format!("writing {}", json_path.display()))?;
    let html_path = dir.join("report.html");
    std::fs::write(&html_path, render(&text, reports))
        .with_context(|| format!("writing {}", html_path.display()))?;
    eprintln!(
        "spate-bench: wrote {} and {}",
        json_path.display(),
        html_path.display()
    );
    Ok(())
}

/// The page: `json` is embedded verbatim (escaped for a script block).
pub fn render(json: &str, reports: &[AppendReport]) -> String {
    let title = match reports {
        [one] => format!("spate-bench: {} on {}", one.config.name, one.driver.name()),
        many => format!(
            "spate-bench compare: {} on {}",
            many.first().map_or("", |r| r.config.name.as_str()),
            many.iter()
                .map(|r| r.driver.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut page = String::with_capacity(64 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    page.push_str(&summary(reports));
    page.push_str("<h2>Latency by percentile</h2>\n");
    page.push_str(&percentile_chart(reports).svg());
    page.push_str("<h2>Latency over time</h2>\n");
    for report in reports {
        page.push_str(&latency_over_time(report).svg());
    }
    page.push_str("<h2>Throughput over time</h2>\n");
    page.push_str(&throughput_over_time(reports).svg());
    page.push_str(&settings(reports));
    let _ = write!(
        page,
        "<script type=\"application/json\" id=\"spate-bench-data\">{}</script>\n</body>\n</html>\n",
        script_safe(json)
    );
    page
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1000px;\
padding:0 1em;color:#222}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}\
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:.5em 0;font-size:.9em}\
th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left}svg{display:block;margin:.5em 0;max-width:100%;height:auto}\
svg text{font-size:12px;fill:#333}.note{color:#666;font-size:.9em}\
table.settings td,table.settings th{text-align:left;vertical-align:top}";

/// Colours per driver, and per percentile in the over-time charts.
const PALETTE: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
const P50: &str = "#1f77b4";
const P99: &str = "#ff7f0e";
const MAX: &str = "#7f7f7f";

fn summary(reports: &[AppendReport]) -> String {
    let mut html = String::from(
        "<table>\n<thead><tr><th>driver</th><th>events</th><th>events/s</th><th>MB/s</th>\
         <th>p50 µs</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th>\
         <th>p99 ÷ floor</th></tr></thead>\n<tbody>\n",
    );
    for r in reports {
        let l = &r.latency_us;
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.2}</td><td>{:.1}</td><td>{:.1}</td>\
             <td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.2}</td></tr>",
            r.driver.name(),
            r.events,
            r.throughput.events_per_s,
            r.throughput.mb_per_s,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.p9999,
            l.max,
            r.ratio.floor.p99
        );
    }
    html.push_str("</tbody>\n</table>\n");
    if let Some(r) = reports.first() {
        let f = &r.floor;
        let _ = writeln!(
            html,
            "<p class=\"note\">Open loop: each latency runs from the event's intended send time to \
             its acknowledgement. Device floor in the same run: 4 KiB write+fdatasync p50 {:.1} µs, \
             p99 {:.1} µs; RWF_DSYNC p50 {:.1} µs, p99 {:.1} µs; sequential write {:.0} MB/s, \
             read {:.0} MB/s.</p>",
            f.sync_write_4k_us.p50,
            f.sync_write_4k_us.p99,
            f.dsync_write_4k_us.p50,
            f.dsync_write_4k_us.p99,
            f.seq_write_mb_per_s,
            f.seq_read_mb_per_s
        );
    }
    html
}

fn settings(reports: &[AppendReport]) -> String {
    let mut html = String::from(
        "<h2>Settings</h2>\n<table class=\"settings\">\n<thead><tr><th>driver</th><th>target</th><th>workload</th><th>producers</th><th>segments</th><th>event bytes</th><th>rate</th><th>seconds</th><th>warm-up</th></tr></thead>\n<tbody>\n",
    );
    for r in reports {
        let c = &r.config;
        let rate = if c.rate > 0.0 {
            format!("{}/s", c.rate)
        } else {
            format!("max ({} in flight)", c.window)
        };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            r.driver.name(),
            escape(&c.target),
            escape(&c.name),
            c.producers,
            c.segments,
            escape(&c.event_bytes.to_string()),
            escape(&rate),
            r.seconds,
            c.warmup_s,
        );
    }
    html.push_str("</tbody>\n</table>\n<p>What an acknowledgement means:</p>\n<ul>\n");
    for r in reports {
        let _ = writeln!(
            html,
            "<li>{}: {}</li>",
            r.driver.name(),
            escape(&r.config.durability)
        );
    }
    html.push_str("</ul>\n");
    html
}

/// x: percentile as "nines" (0 = p0, 1 = p90, 2 = p99, ...), the maximum a
/// quarter step after the last percentile; y: log latency.
fn percentile_chart(reports: &[AppendReport]) -> Chart {
    let mut chart = Chart::new("latency by percentile", "percentile", "latency");
    chart.y_log = true;
    let mut last_nines: f64 = 0.0;
    for (i, r) in reports.iter().enumerate() {
        let mut points = Vec::new();
        let mut prev = 0.0;
        for p in &r.latency_distribution {
            let x = if p.percentile >= 100.0 {
                prev + 0.25
            } else {
                -(1.0 - p.percentile / 100.0).log10()
            };
            prev = x;
            points.push((x, Some(p.us)));
        }
        last_nines = last_nines.max(prev);
        chart.lines.push(Line {
            label: r.driver.name().to_string(),
            color: PALETTE[i % PALETTE.len()],
            dash: false,
            points,
        });
    }
    if let Some(r) = reports.first() {
        let floor = r.floor.write_4k(r.floor.faster_sync());
        chart.rules.push(Rule {
            label: format!("floor p99 {}", format_us(floor.p99)),
            value: floor.p99,
        });
    }
    let mut ticks = vec![(0.0, "0%".to_string())];
    let names = ["90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"];
    for (n, name) in names.iter().enumerate() {
        let x = (n + 1) as f64;
        if x <= last_nines.ceil() {
            ticks.push((x, (*name).to_string()));
        }
    }
    chart.x_ticks = Some(ticks);
    chart
}

fn latency_over_time(report: &AppendReport) -> Chart {
    let title = format!("{}: latency per second", report.driver.name());
    let mut chart = Chart::new(&title, "seconds since measuring began", "latency");
    chart.y_log = true;
    type Pick = fn(&crate::harness::Second) -> Option<f64>;
    let picks: [(&str, &'static str, Pick); 3] = [
        ("p50", P50, |s| s.p50_us),
        ("p99", P99, |s| s.p99_us),
        ("max", MAX, |s| s.max_us),
    ];
    for (label, color, pick) in picks {
        chart.lines.push(Line {
            label: label.to_string(),
            color,
            dash: label == "max",
            points: report
                .series
                .iter()
                .map(|s| (f64::from(s.t) + 0.5, pick(s)))
                .collect(),
        });
    }
    chart.x_min_zero = true;
    chart
}

fn throughput_over_time(reports: &[AppendReport]) -> Chart {
    let mut chart = Chart::new(
        "acknowledged events per second",
        "seconds since measuring began",
        "events/s",
    );
    for (i, r) in reports.iter().enumerate() {
        chart.lines.push(Line {
            label: r.driver.name().to_string(),
            color: PALETTE[i % PALETTE.len()],
            dash: false,
            // Seconds after the window hold only the stragglers of the
            // drain: a drop there would be the run ending, not the system.
            points: r
                .series
                .iter()
                .filter(|s| f64::from(s.t) < r.seconds)
                .map(|s| (f64::from(s.t) + 0.5, Some(s.events as f64)))
                .collect(),
        });
    }
    chart.x_min_zero = true;
    chart.y_min_zero = true;
    chart
}

/// A line chart as inline SVG.
struct Chart {
    title: String,
    x_label: String,
    y_label: String,
    lines: Vec<Line>,
    /// Horizontal reference lines.
    rules: Vec<Rule>,
    y_log: bool,
    x_min_zero: bool,
    y_min_zero: bool,
    /// Fixed x ticks (position, label) instead of computed ones.
    x_ticks: Option<Vec<(f64, String)>>,
}

/// A series; `None` values leave a gap.
struct Line {
    label: String,
    color: &'static str,
    dash: bool,
    points: Vec<(f64, Option<f64>)>,
}

struct Rule {
    label: String,
    value: f64,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 44.0;

impl Chart {
    fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            lines: Vec::new(),
            rules: Vec::new(),
            y_log: false,
            x_min_zero: false,
            y_min_zero: false,
            x_ticks: None,
        }
    }

    fn svg(&self) -> String {
        let xs = self.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0));
        let ys = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().filter_map(|p| p.1))
            .chain(self.rules.iter().map(|r| r.value))
            .filter(|y| !self.y_log || *y > 0.0);
        let (mut x0, mut x1) = bounds(xs);
        let (mut y0, mut y1) = bounds(ys);
        if self.x_min_zero {
            x0 = x0.min(0.0);
        }
        if self.y_min_zero {
            y0 = y0.min(0.0);
        }
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{}\">",
            escape(&self.title)
        );
        let _ = writeln!(svg, "<title>{}</title>", escape(&self.title));
        let _ = writeln!(
            svg,
            "<text x=\"{LEFT}\" y=\"16\" font-weight=\"bold\">{}</text>",
            escape(&self.title)
        );
        if x0.is_nan() || y0.is_nan() {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\">no data</text>\n</svg>",
                WIDTH / 2.0 - 20.0,
                HEIGHT / 2.0
            );
            return svg;
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let y_ticks;
        if self.y_log {
            y0 = 10f64.powf(y0.log10().floor());
            y1 = 10f64.powf(y1.log10().ceil());
            if y1 <= y0 {
                y1 = y0 * 10.0;
            }
            y_ticks = log_ticks(y0, y1);
        } else {
            if y1 <= y0 {
                y1 = y0 + 1.0;
            }
            let step = nice_step(y1 - y0);
            y0 = (y0 / step).floor() * step;
            // A step of headroom, so the highest line never runs along
            // the frame.
            y1 = ((y1 / step).floor() + 1.0) * step;
            y_ticks = linear_ticks(y0, y1, step);
        }
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let px = |x: f64| LEFT + (x - x0) / (x1 - x0) * plot_w;
        let py = |y: f64| {
            let f = if self.y_log {
                (y.max(y0).log10() - y0.log10()) / (y1.log10() - y0.log10())
            } else {
                (y - y0) / (y1 - y0)
            };
            TOP + plot_h - f * plot_h
        };
        // Axes and grid.
        let _ = writeln!(
            svg,
            "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#999\"/>"
        );
        for y in &y_ticks {
            let yy = py(*y);
            let label = if self.y_label == "latency" {
                format_us(*y)
            } else {
                format_number(*y)
            };
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT + plot_w,
                LEFT - 6.0,
                yy + 4.0,
                escape(&label)
            );
        }
        let x_ticks = match &self.x_ticks {
            Some(ticks) => ticks.clone(),
            None => {
                let step = nice_step(x1 - x0);
                linear_ticks((x0 / step).ceil() * step, x1, step)
                    .into_iter()
                    .map(|x| (x, format_number(x)))
                    .collect()
            }
        };
        for (x, label) in &x_ticks {
            if *x < x0 - 1e-9 || *x > x1 + 1e-9 {
                continue;
            }
            let xx = px(*x);
            let _ = writeln!(
                svg,
                "<line x1=\"{xx:.1}\" y1=\"{TOP}\" x2=\"{xx:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                TOP + plot_h,
                TOP + plot_h + 16.0,
                escape(label)
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            LEFT + plot_w / 2.0,
            HEIGHT - 8.0,
            escape(&self.x_label)
        );
        for rule in &self.rules {
            let yy = py(rule.value);
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#555\" stroke-dasharray=\"2 3\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                LEFT + plot_w,
                LEFT + plot_w + 6.0,
                yy + 4.0,
                escape(&rule.label)
            );
        }
        // Lines, each broken where a value is missing, then the legend.
        for line in &self.lines {
            let dash = if line.dash {
                " stroke-dasharray=\"5 3\""
            } else {
                ""
            };
            let mut run: Vec<String> = Vec::new();
            let flush = |run: &mut Vec<String>, svg: &mut String| {
                if run.len() == 1 {
                    let _ = writeln!(
                        svg,
                        "<circle cx=\"{}\" r=\"2.5\" fill=\"{}\"><title>{}</title></circle>",
                        run[0].replacen(',', "\" cy=\"", 1),
                        line.color,
                        escape(&line.label)
                    );
                } else if run.len() > 1 {
                    let _ = writeln!(
                        svg,
                        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.6\"{dash} points=\"{}\"><title>{}</title></polyline>",
                        line.color,
                        run.join(" "),
                        escape(&line.label)
                    );
                }
                run.clear();
            };
            for (x, y) in &line.points {
                match y {
                    Some(y) if !self.y_log || *y > 0.0 => {
                        run.push(format!("{:.1},{:.1}", px(*x), py(*y)));
                    }
                    _ => flush(&mut run, &mut svg),
                }
            }
            flush(&mut run, &mut svg);
        }
        for (i, line) in self.lines.iter().enumerate() {
            let y = TOP + 10.0 + i as f64 * 18.0;
            let x = LEFT + plot_w + 10.0;
            let dash = if line.dash {
                " stroke-dasharray=\"5 3\""
            } else {
                ""
            };
            let _ = writeln!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"2\"{dash}/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x + 22.0,
                line.color,
                x + 28.0,
                y + 4.0,
                escape(&line.label)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// (min, max) of the finite values, or NaNs when there are none.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values
        .filter(|v| v.is_finite())
        .fold((f64::NAN, f64::NAN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// A step of 1, 2 or 5 times a power of ten giving about five ticks.
fn nice_step(span: f64) -> f64 {
    let raw = (span / 5.0).max(1e-12);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    step.max(1e-12)
}

fn linear_ticks(from: f64, to: f64, step: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut t = from;
    while t <= to + step * 1e-6 && ticks.len() < 50 {
        ticks.push((t / step).round() * step);
        t += step;
    }
    ticks
}

/// Powers of ten from `from` to `to`, with 2 and 5 between them when the
/// range spans few decades.
fn log_ticks(from: f64, to: f64) -> Vec<f64> {
    let decades = (to / from).log10().round().max(1.0) as i32;
    let base = from.log10().round() as i32;
    let mut ticks = Vec::new();
    for d in 0..=decades {
        let p = 10f64.powi(base + d);
        ticks.push(p);
        if decades <= 2 && d < decades {
            ticks.push(2.0 * p);
            ticks.push(5.0 * p);
        }
    }
    ticks
}

/// Microseconds for people: `850 µs`, `1.2 ms`, `2 s`.
fn format_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{} s", trim(us / 1e6))
    } else if us >= 1e3 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} µs", trim(us))
    }
}

fn format_number(x: f64) -> String {
    if x.abs() >= 1e6 {
        format!("{}M", trim(x / 1e6))
    } else if x.abs() >= 1e3 {
        format!("{}k", trim(x / 1e3))
    } else {
        trim(x)
    }
}

/// At most one decimal, none when whole.
fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// Text and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON inside a script block: `<`, `>` and `&` only occur inside JSON
/// strings, where their `\u` escapes mean the same, and then no `</script>`
/// or `<!--` can end the block early.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use scraper::{Html, Selector};

    use super::*;
    use crate::append::{AppendConfig, AppendRatio, Throughput};
    use crate::driver::DriverKind;
    use crate::floor::FloorReport;
    use crate::harness::Second;
    use crate::report::Ratio;
    use crate::spec::EventSize;
    use crate::stats::{FloorLatency, Latencies};

    fn report(driver: DriverKind, scale: u64) -> AppendReport {
        let samples: Vec<u64> = (1..=5000).map(|i| i * 100 * scale).collect();
        let latencies = Latencies::from_samples(&samples);
        let floor = FloorReport {
            sync_write_4k_us: FloorLatency {
                p50: 120.0,
                p99: 230.0,
                p999: 400.0,
            },
            dsync_write_4k_us: FloorLatency {
                p50: 110.0,
                p99: 210.0,
                p999: 380.0,
            },
            seq_write_mb_per_s: 2800.0,
            seq_read_mb_per_s: 2000.0,
            samples: 100,
            probe_seconds: 1.0,
            paced_write_4k_us: None,
        };
        let latency = latencies.summary();
        AppendReport {
            workload: "append",
            driver,
            events: 5000,
            seconds: 5.0,
            throughput: Throughput {
                events_per_s: 1000.0,
                mb_per_s: 1.024,
            },
            latency_us: latency,
            latency_samples: 5000,
            late_acks: 0,
            send_delay_us: latency,
            ratio: AppendRatio {
                floor: Ratio::new(&latency, &floor, floor.faster_sync(), 1.024),
                read_vs_seq_read: None,
            },
            read_mb_per_s: None,
            consumers: None,
            floor,
            config: AppendConfig {
                name: "fixed-1kb-1000 <&> \"quoted\"".into(),
                driver,
                target: "127.0.0.1:9870".into(),
                durability: "durable </script> & so on".into(),
                producers: 1,
                segments: 1,
                event_bytes: EventSize::Fixed(1024),
                mean_event_bytes: 1024.0,
                rate: 1000.0,
                window: 4096,
                warmup_s: 1.0,
                stream: None,
                keys: 0,
                consumers: 0,
                consumer_mode: None,
                reply_spin_us: None,
            },
            latency_distribution: latencies.distribution(),
            series: (0..5)
                .map(|t| Second {
                    t,
                    events: 1000,
                    mb_per_s: 1.024,
                    // Second 2 had no acks: a gap in the latency lines.
                    p50_us: (t != 2).then_some(100.0 * scale as f64),
                    p99_us: (t != 2).then_some(300.0 * scale as f64),
                    max_us: (t != 2).then_some(900.0 * scale as f64),
                })
                .collect(),
        }
    }

    fn page(reports: &[AppendReport]) -> (String, String) {
        let json =
            serde_json::to_string(&serde_json::json!({ "results": reports })).expect("serialises");
        (render(&json, reports), json)
    }

    #[test]
    fn the_page_is_valid_html_and_embeds_its_data() {
        for reports in [
            vec![report(DriverKind::Spate, 1)],
            vec![report(DriverKind::Spate, 1), report(DriverKind::Redis, 3)],
        ] {
            let (html, json) = page(&reports);
            let doc = Html::parse_document(&html);
            assert!(doc.errors.is_empty(), "parse errors: {:?}", doc.errors);

            let data = Selector::parse("script[type=\"application/json\"]#spate-bench-data")
                .expect("selector");
            let blocks: Vec<_> = doc.select(&data).collect();
            assert_eq!(blocks.len(), 1, "one data block");
            let embedded: serde_json::Value =
                serde_json::from_str(&blocks[0].text().collect::<String>())
                    .expect("its JSON parses");
            let original: serde_json::Value = serde_json::from_str(&json).expect("json");
            assert_eq!(
                embedded, original,
                "the page embeds the report's data unchanged"
            );

            let svg = Selector::parse("svg").expect("selector");
            // Percentiles, one latency-over-time per driver, throughput.
            assert_eq!(doc.select(&svg).count(), 2 + reports.len());
            let lines = Selector::parse("svg polyline").expect("selector");
            assert!(doc.select(&lines).count() >= 3 * reports.len());
            let title = Selector::parse("title").expect("selector");
            assert!(doc.select(&title).next().is_some());
        }
    }

    #[test]
    fn the_page_fetches_nothing() {
        let (html, _) = page(&[report(DriverKind::Spate, 1), report(DriverKind::Nats, 2)]);
        for forbidden in [
            "http://", "https://", "src=", "href=", "@import", "url(", "<link", "<img", "<iframe",
        ] {
            assert!(!html.contains(forbidden), "the page contains {forbidden:?}");
        }
        let doc = Html::parse_document(&html);
        let any = Selector::parse("*").expect("selector");
        for element in doc.select(&any) {
            for (name, _) in element.value().attrs() {
                assert!(
                    !matches!(
                        name,
                        "src" | "href" | "xlink:href" | "srcset" | "action" | "data"
                    ),
                    "<{}> has {name}",
                    element.value().name()
                );
            }
        }
        let scripts = Selector::parse("script").expect("selector");
        for script in doc.select(&scripts) {
            assert_eq!(
                script.value().attr("type"),
                Some("application/json"),
                "the only script is the data block"
            );
        }
    }

    #[test]
    fn a_run_without_acks_still_draws() {
        let mut empty = report(DriverKind::Spate, 1);
        empty.series.clear();
        empty.latency_distribution.clear();
        let (html, _) = page(&[empty]);
        let doc = Html::parse_document(&html);
        assert!(doc.errors.is_empty(), "{:?}", doc.errors);
        assert!(html.contains("no data"));
    }

    #[test]
    fn ticks_and_labels_are_round() {
        assert_eq!(nice_step(10.0), 2.0);
        assert_eq!(nice_step(47.0), 10.0);
        assert_eq!(
            log_ticks(100.0, 10_000.0),
            vec![100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10_000.0]
        );
        assert_eq!(format_us(850.0), "850 µs");
        assert_eq!(format_us(1200.0), "1.2 ms");
        assert_eq!(format_us(2e6), "2 s");
        assert_eq!(format_number(50_000.0), "50k");
        assert_eq!(
            script_safe("{\"a\":\"</script>\"}"),
            "{\"a\":\"\\u003c/script\\u003e\"}"
        );
    }
}

//! Stream cuts: a position in every segment that covers the key space at
//! one point of a stream, each at an event boundary.
//!
//! The text form is `scope/stream@N:OFFSET,N:OFFSET,...` with segment
//! numbers in increasing order, e.g. `shop/orders@0:1024,5:0,6:77`. It
//! round-trips: `cut.to_string().parse() == Ok(cut)`. Whether a cut fits a
//! stream (its segments cover the key space, its offsets are event
//! boundaries) is for the node to check; this is only the value.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::names::{validate_scope_name, validate_stream_name};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StreamCut {
    pub scope: String,
    pub stream: String,
    /// Segment number → offset in it.
    pub positions: BTreeMap<u64, u64>,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CutError {
    #[error("a stream cut looks like scope/stream@N:OFFSET,N:OFFSET; {0}")]
    Syntax(&'static str),
    #[error("stream cut: {0}")]
    Name(#[from] super::names::StreamNameError),
    #[error("stream cut: {0:?} is not a number")]
    Number(String),
    #[error("stream cut names segment {0} twice")]
    Duplicate(u64),
}

impl fmt::Display for StreamCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}@", self.scope, self.stream)?;
        for (i, (segment, offset)) in self.positions.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{segment}:{offset}")?;
        }
        Ok(())
    }
}

impl FromStr for StreamCut {
    type Err = CutError;

    fn from_str(text: &str) -> Result<Self, CutError> {
        let (stream_path, positions) = text
            .split_once('@')
            .ok_or(CutError::Syntax("no '@' after the stream"))?;
        let (scope, stream) = stream_path
            .split_once('/')
            .ok_or(CutError::Syntax("no '/' between scope and stream"))?;
        validate_scope_name(scope)?;
        validate_stream_name(stream)?;
        if positions.is_empty() {
            return Err(CutError::Syntax("no segment positions"));
        }
        let mut map = BTreeMap::new();
        for position in positions.split(',') {
            let (segment, offset) = position
                .split_once(':')
                .ok_or(CutError::Syntax("a position is N:OFFSET"))?;
            let (segment, offset) = (number(segment)?, number(offset)?);
            if map.insert(segment, offset).is_some() {
                return Err(CutError::Duplicate(segment));
            }
        }
        Ok(StreamCut {
            scope: scope.to_owned(),
            stream: stream.to_owned(),
            positions: map,
        })
    }
}

/// A plain decimal `u64` (no sign, no spaces: the form must round-trip).
fn number(text: &str) -> Result<u64, CutError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CutError::Number(text.to_owned()));
    }
    text.parse().map_err(|_| CutError::Number(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_round_trips() {
        let cut = StreamCut {
            scope: "shop".into(),
            stream: "orders".into(),
            positions: BTreeMap::from([(6, 77), (0, 1024), (5, 0), (u64::MAX, u64::MAX)]),
        };
        let text = cut.to_string();
        assert_eq!(
            text,
            format!("shop/orders@0:1024,5:0,6:77,{}:{}", u64::MAX, u64::MAX)
        );
        assert_eq!(text.parse::<StreamCut>(), Ok(cut));
    }

    #[test]
    fn malformed_cuts_say_what_is_wrong() {
        let bad = [
            "shop/orders",
            "shoporders@0:1",
            "shop/orders@",
            "shop/orders@0",
            "shop/orders@0:1,",
            "shop/orders@x:1",
            "shop/orders@0:-1",
            "shop/orders@0: 1",
            "shop/orders@0:1,0:2",
            "_sys/orders@0:1",
            "shop/a/b@0:1",
            "shop/orders@0:18446744073709551616",
        ];
        for text in bad {
            assert!(text.parse::<StreamCut>().is_err(), "{text}");
        }
        assert_eq!(
            "shop/orders@0:1,0:2".parse::<StreamCut>(),
            Err(CutError::Duplicate(0))
        );
    }
}

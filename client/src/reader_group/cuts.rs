//! Between stream cuts and group positions: a configuration's start and
//! end cuts become the group's bounds and start positions (from each
//! stream's description), a completed checkpoint's positions become one
//! cut per stream, and cuts become start positions again for a reset.

use std::collections::BTreeMap;

use spate_wire::stream::StreamCut;

use super::state::{Bounds, MAX_GROUP_SEGMENTS, MAX_GROUP_STREAMS, Positions, SegmentId};
use super::{Checkpoint, ReaderGroupConfig};
use crate::client::Client;
use crate::error::ClientError;
use crate::stream::{StreamInfo, StreamName};

/// The group's bounds and start positions from a configuration, from each
/// stream's description.
pub(super) fn resolve(
    client: &Client,
    config: &ReaderGroupConfig,
) -> Result<(Bounds, Positions), ClientError> {
    if config.streams.is_empty() || config.streams.len() > MAX_GROUP_STREAMS {
        return Err(ClientError::invalid(format!(
            "a reader group reads 1 to {MAX_GROUP_STREAMS} streams"
        )));
    }
    let mut bounds = Bounds::default();
    let mut start = Positions::new();
    for (index, stream) in config.streams.iter().enumerate() {
        let index = index as u16;
        let name = stream.stream.to_string();
        if bounds.streams.contains(&name) {
            return Err(ClientError::invalid(format!(
                "{name} is in the group twice"
            )));
        }
        let info = client
            .describe_stream(&stream.stream)
            .wait()?
            .found(&name)?;
        let first = match &stream.start {
            Some(cut) => cut_positions(&stream.stream, cut)?,
            None => head(&info),
        };
        start.extend(first.into_iter().map(|(n, o)| (seg(index, n), o)));
        if let Some(cut) = &stream.end {
            let ends = cut_positions(&stream.stream, cut)?;
            bounds
                .ends
                .extend(ends.into_iter().map(|(n, o)| (seg(index, n), o)));
        }
        bounds.streams.push(name);
        bounds.bounded.push(stream.end.is_some());
    }
    if start.len() > MAX_GROUP_SEGMENTS {
        return Err(ClientError::invalid(format!(
            "a reader group starts with at most {MAX_GROUP_SEGMENTS} segments"
        )));
    }
    Ok((bounds, start))
}

fn seg(stream: u16, number: u64) -> SegmentId {
    SegmentId { stream, number }
}

/// A stream's head: its truncation cut, or its first epoch's segments.
fn head(info: &StreamInfo) -> BTreeMap<u64, u64> {
    let description = &info.description;
    if !description.truncation.is_empty() {
        return description
            .truncation
            .iter()
            .map(|p| (p.segment, p.offset))
            .collect();
    }
    description
        .epochs
        .first()
        .map(|epoch| {
            epoch
                .segments
                .iter()
                .map(|&n| (n, info.segment(n).map_or(0, |s| s.start_offset)))
                .collect()
        })
        .unwrap_or_default()
}

fn cut_positions(stream: &StreamName, cut: &StreamCut) -> Result<BTreeMap<u64, u64>, ClientError> {
    if cut.scope != stream.scope || cut.stream != stream.stream {
        return Err(ClientError::invalid(format!(
            "the cut {cut} is not of stream {stream}"
        )));
    }
    Ok(cut.positions.clone())
}

/// Start positions from one cut per stream of `bounds`.
pub(super) fn positions_of(bounds: &Bounds, cuts: &[StreamCut]) -> Result<Positions, ClientError> {
    let mut start = Positions::new();
    for (index, name) in bounds.streams.iter().enumerate() {
        let cut = cuts
            .iter()
            .find(|c| format!("{}/{}", c.scope, c.stream) == *name)
            .ok_or_else(|| ClientError::invalid(format!("no cut for stream {name}")))?;
        let index = index as u16;
        start.extend(cut.positions.iter().map(|(&n, &o)| (seg(index, n), o)));
    }
    Ok(start)
}

/// A completed checkpoint's positions as one cut per stream.
pub(super) fn checkpoint_of(
    name: &str,
    bounds: &Bounds,
    positions: &Positions,
) -> Result<Checkpoint, ClientError> {
    let mut cuts = Vec::with_capacity(bounds.streams.len());
    for (index, stream) in bounds.streams.iter().enumerate() {
        let parsed: StreamName = stream.parse()?;
        cuts.push(StreamCut {
            scope: parsed.scope,
            stream: parsed.stream,
            positions: positions
                .iter()
                .filter(|(s, _)| usize::from(s.stream) == index)
                .map(|(s, &o)| (s.number, o))
                .collect(),
        });
    }
    Ok(Checkpoint {
        name: name.to_owned(),
        cuts,
    })
}

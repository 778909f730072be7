//! The body of a `Snapshot` event (kind 17): a stream's whole state.
//!
//! config, `created_ms: u64`, `sealed: u8`;
//! segments `u32 ×` (`number: u64, start: u64, end: u64, created_epoch: u32,
//! has_sealed: u8, sealed_epoch: u32, predecessors: u32 × u64, deleted: u8`);
//! epochs `u32 ×` (`at_ms: u64, segments: u32 × u64`); `next_number: u64`;
//! truncation `u32 ×` (`segment: u64, offset: u64`); open transactions
//! `u32 ×` (`id: u64, epoch: u32, lease_ms: u64, parents: u32 × u64`);
//! ended transactions `u32 ×` (`id: u64, committed: u8`); `next_txn: u64`.

use spate_wire::stream::KeyRange;

use super::super::state::{SegmentRecord, StreamSnapshot};
use super::super::txn::Txn;
use super::{CodecError, LogFields, Reader, put_config, put_count};

pub(super) fn put_snapshot(s: &StreamSnapshot, out: &mut Vec<u8>) {
    put_config(&s.config, out);
    out.extend_from_slice(&s.created_ms.to_le_bytes());
    out.push(u8::from(s.sealed));
    put_count(s.segments.len(), out);
    for segment in &s.segments {
        put_u64(segment.number, out);
        put_u64(segment.range.start, out);
        put_u64(segment.range.end, out);
        out.extend_from_slice(&segment.created_epoch.to_le_bytes());
        out.push(u8::from(segment.sealed_epoch.is_some()));
        out.extend_from_slice(&segment.sealed_epoch.unwrap_or(0).to_le_bytes());
        put_numbers(&segment.predecessors, out);
        out.push(u8::from(segment.deleted));
    }
    put_count(s.epochs.len(), out);
    for (at_ms, segments) in &s.epochs {
        put_u64(*at_ms, out);
        put_numbers(segments, out);
    }
    put_u64(s.next_number, out);
    put_count(s.truncated.len(), out);
    for &(segment, offset) in &s.truncated {
        put_u64(segment, out);
        put_u64(offset, out);
    }
    put_count(s.open_txns.len(), out);
    for txn in &s.open_txns {
        put_u64(txn.id, out);
        out.extend_from_slice(&txn.epoch.to_le_bytes());
        put_u64(txn.lease_ms, out);
        put_numbers(&txn.parents, out);
    }
    put_count(s.ended_txns.len(), out);
    for &(id, committed) in &s.ended_txns {
        put_u64(id, out);
        out.push(u8::from(committed));
    }
    put_u64(s.next_txn, out);
}

fn put_u64(value: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_numbers(numbers: &[u64], out: &mut Vec<u8>) {
    put_count(numbers.len(), out);
    numbers.iter().for_each(|&n| put_u64(n, out));
}

pub(super) fn get_snapshot(r: &mut Reader<'_>) -> Result<StreamSnapshot, CodecError> {
    let config = r.config()?;
    let created_ms = r.u64()?;
    let sealed = flag(r)?;
    let count = r.count(38)?;
    let mut segments = Vec::with_capacity(count);
    for _ in 0..count {
        let number = r.u64()?;
        let range = KeyRange::new(r.u64()?, r.u64()?)
            .map_err(|_| CodecError::Malformed("an empty key range"))?;
        let created_epoch = r.u32()?;
        let has_sealed = flag(r)?;
        let sealed_epoch = r.u32()?;
        segments.push(SegmentRecord {
            number,
            range,
            created_epoch,
            sealed_epoch: has_sealed.then_some(sealed_epoch),
            predecessors: numbers(r)?,
            deleted: flag(r)?,
        });
    }
    let count = r.count(12)?;
    let epochs = (0..count)
        .map(|_| Ok((r.u64()?, numbers(r)?)))
        .collect::<Result<_, CodecError>>()?;
    let next_number = r.u64()?;
    let count = r.count(16)?;
    let truncated = (0..count)
        .map(|_| Ok((r.u64()?, r.u64()?)))
        .collect::<Result<_, CodecError>>()?;
    let count = r.count(24)?;
    let open_txns = (0..count)
        .map(|_| {
            Ok(Txn {
                id: r.u64()?,
                epoch: r.u32()?,
                lease_ms: r.u64()?,
                parents: numbers(r)?,
            })
        })
        .collect::<Result<_, CodecError>>()?;
    let count = r.count(9)?;
    let ended_txns = (0..count)
        .map(|_| Ok((r.u64()?, flag(r)?)))
        .collect::<Result<_, CodecError>>()?;
    Ok(StreamSnapshot {
        config,
        created_ms,
        sealed,
        segments,
        epochs,
        next_number,
        truncated,
        open_txns,
        ended_txns,
        next_txn: r.u64()?,
    })
}

fn flag(r: &mut Reader<'_>) -> Result<bool, CodecError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(CodecError::Malformed("a flag that is not 0 or 1")),
    }
}

fn numbers(r: &mut Reader<'_>) -> Result<Vec<u64>, CodecError> {
    let count = r.count(8)?;
    (0..count).map(|_| Ok(r.u64()?)).collect()
}

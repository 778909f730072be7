//! Snapshots → checkpoint bytes. The layout is in the parent module's doc.

use super::{
    CHUNK_IN_HOT_FILE, CHUNK_IN_JOURNAL, CHUNK_INLINE, ChunkSource, SNAPSHOT_VERSION,
    SegmentSnapshot, Snapshot,
};

/// The checkpoint record of `snapshots`.
pub fn encode_checkpoint(snapshots: &[Snapshot]) -> Vec<u8> {
    let mut out = vec![SNAPSHOT_VERSION];
    put_u32(&mut out, snapshots.len());
    for snapshot in snapshots {
        out.extend_from_slice(&snapshot.container.to_le_bytes());
        out.extend_from_slice(&snapshot.last_seq.to_le_bytes());
        put_u32(&mut out, snapshot.segments.len());
        for segment in &snapshot.segments {
            put_segment(&mut out, segment);
        }
    }
    out
}

fn put_segment(out: &mut Vec<u8>, segment: &SegmentSnapshot) {
    let name = segment.name.as_bytes();
    // Segment names are valid wire names: at most 255 bytes.
    out.push(u8::try_from(name.len()).unwrap_or_else(|_| panic!("segment name over 255 bytes")));
    out.extend_from_slice(name);
    out.push(u8::from(segment.sealed));
    for value in [
        segment.created_ms,
        segment.start_offset,
        segment.length,
        segment.last_seq,
    ] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    put_u32(out, segment.attributes.len());
    for (key, value) in &segment.attributes {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    put_u32(out, segment.writers.len());
    for (writer, last) in &segment.writers {
        out.extend_from_slice(&writer.to_le_bytes());
        out.extend_from_slice(&last.to_le_bytes());
    }
    put_u32(out, segment.chunks.len());
    for chunk in &segment.chunks {
        out.extend_from_slice(&chunk.offset.to_le_bytes());
        out.extend_from_slice(&chunk.len.to_le_bytes());
        match &chunk.source {
            ChunkSource::Journal(at) => {
                out.push(CHUNK_IN_JOURNAL);
                let location = at.location;
                for value in [location.lsn, location.file_seq, location.offset] {
                    out.extend_from_slice(&value.to_le_bytes());
                }
                out.extend_from_slice(&at.payload_len.to_le_bytes());
            }
            ChunkSource::Hot(at) => {
                out.push(CHUNK_IN_HOT_FILE);
                out.extend_from_slice(&at.file.to_le_bytes());
                out.extend_from_slice(&at.file_offset.to_le_bytes());
                out.extend_from_slice(&at.len.to_le_bytes());
                out.extend_from_slice(&at.crc.to_le_bytes());
            }
            ChunkSource::Inline(bytes) => {
                assert_eq!(
                    bytes.len() as u64,
                    chunk.len,
                    "an inline chunk holds its bytes"
                );
                out.push(CHUNK_INLINE);
                out.extend_from_slice(bytes);
            }
        }
    }
}

/// Counts are bounded by the container's limits, far below `u32::MAX`.
fn put_u32(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).unwrap_or_else(|_| panic!("count {n} over u32"));
    out.extend_from_slice(&n.to_le_bytes());
}

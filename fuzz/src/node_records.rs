//! Fuzz entry: a sequence of container journal records through
//! `record_container` and `Container::replay`, the path recovery takes for
//! every data record after the last checkpoint.
//!
//! Input: records one after another, each a little-endian `u16` length and
//! that many bytes. Checked beyond "no panic":
//! - a record that fails to replay changes nothing;
//! - after the sequence, each container's snapshot survives the checkpoint
//!   encoding and restores to a container with the same snapshot;
//! - reads of every segment pass `check_reads`.

use std::collections::BTreeMap;

use spate_journal::RecordLocation;
use spate_node::container::{Container, decode_checkpoint, encode_checkpoint, record_container};

use super::node_common::{MAX_CONTAINERS, check_reads, limits};

pub fn replay_records(data: &[u8]) {
    let mut containers: BTreeMap<u32, Container> = BTreeMap::new();
    let mut rest = data;
    let mut lsn = 0;
    while let Some(record) = next_record(&mut rest) {
        let Ok(id) = record_container(record) else {
            continue;
        };
        if containers.len() >= MAX_CONTAINERS && !containers.contains_key(&id) {
            continue;
        }
        let container = containers
            .entry(id)
            .or_insert_with(|| Container::new(id, limits()));
        lsn += 1;
        // Where the record would lie: data evicted from memory is read back
        // from there, so replay keeps it.
        let location = RecordLocation {
            lsn,
            file_seq: 1,
            offset: lsn * 4096,
        };
        let before = container.snapshot();
        if container.replay(record, Some(location)).is_err() {
            assert_eq!(
                container.snapshot(),
                before,
                "a failed replay changed the state"
            );
        }
    }
    for container in containers.values() {
        let snapshot = container
            .snapshot()
            .expect("replayed data has journal locations");
        let decoded = decode_checkpoint(&encode_checkpoint(std::slice::from_ref(&snapshot)))
            .expect("a snapshot's checkpoint decodes");
        assert_eq!(
            decoded,
            std::slice::from_ref(&snapshot),
            "a snapshot changed in a round trip"
        );
        let restored = Container::restore(snapshot.container, limits(), &snapshot)
            .expect("a replayed container's snapshot restores");
        assert_eq!(restored.snapshot().as_ref(), Some(&snapshot));
        for segment in &snapshot.segments {
            check_reads(
                container,
                &segment.name,
                segment.start_offset,
                segment.length,
            );
            check_reads(
                &restored,
                &segment.name,
                segment.start_offset,
                segment.length,
            );
        }
    }
}

/// The input format for `records`: how seeds are written.
pub fn input(records: &[Vec<u8>]) -> Vec<u8> {
    let mut input = Vec::new();
    for record in records {
        let len = u16::try_from(record.len()).expect("seed records under 64 KiB");
        input.extend_from_slice(&len.to_le_bytes());
        input.extend_from_slice(record);
    }
    input
}

fn next_record<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, tail) = rest.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
    let (record, tail) = tail.split_at(len);
    *rest = tail;
    Some(record)
}

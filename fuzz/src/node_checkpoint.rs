//! Fuzz entry: checkpoint bytes through `decode_checkpoint` and
//! `Container::restore`, the path a core takes when recovery hands it a
//! checkpoint record. Checked beyond "no panic":
//! - a decoded checkpoint re-encodes to bytes that decode to the same value;
//! - a restored container's own snapshot restores again, to the same
//!   snapshot (restore keeps what it accepted);
//! - reads of every restored segment pass `check_reads`.

use spate_node::container::{Container, decode_checkpoint, encode_checkpoint};

use super::node_common::{MAX_CONTAINERS, check_reads, limits};

pub fn restore_checkpoint(data: &[u8]) {
    let Ok(snapshots) = decode_checkpoint(data) else {
        return;
    };
    let again =
        decode_checkpoint(&encode_checkpoint(&snapshots)).expect("a re-encoded checkpoint decodes");
    assert_eq!(again, snapshots, "a checkpoint changed in a round trip");
    for snapshot in snapshots.iter().take(MAX_CONTAINERS) {
        let Ok(container) = Container::restore(snapshot.container, limits(), snapshot) else {
            continue;
        };
        let own = container
            .snapshot()
            .expect("a restored container has every chunk in the journal");
        let restored = Container::restore(own.container, limits(), &own)
            .expect("a container's own snapshot restores");
        assert_eq!(
            restored.snapshot().as_ref(),
            Some(&own),
            "restore changed a snapshot it had accepted"
        );
        for segment in &own.segments {
            check_reads(
                &restored,
                &segment.name,
                segment.start_offset,
                segment.length,
            );
        }
    }
}

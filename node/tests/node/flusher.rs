//! The flusher against a real node: a journal far smaller than the data
//! alive takes it all (the data moves to hot chunk files), every byte reads
//! back, before and after a kill, and deleting the data deletes the files.

use std::path::Path;
use std::time::Duration;

use spate_wire::*;

use crate::support::{Conn, Node, Sizes};

fn chunk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(cores) = std::fs::read_dir(dir.join("chunks")) else {
        return Vec::new();
    };
    cores
        .filter_map(Result::ok)
        .flat_map(|core| std::fs::read_dir(core.path()).into_iter().flatten())
        .filter_map(Result::ok)
        .map(|f| f.path())
        .collect()
}

fn payload(segment: usize, event: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ (event as u8) ^ (segment as u8 * 7))
        .collect()
}

#[test]
fn a_small_journal_takes_far_more_data_than_it_holds_and_all_of_it_reads_back() {
    // Four 32 MiB journal files (two can hold data) and 16 MiB of cache;
    // 320 MiB written over four segments, all kept.
    let sizes = Sizes {
        cache_mib: 16,
        journal_files: 4,
        no_flush: false,
    };
    let node = Node::start_sized("flusher", 1, sizes);
    let mut conn = Conn::open(node.cores[0]);
    let segments: Vec<String> = (0..4).map(|i| format!("s/flush/{i}")).collect();
    for segment in &segments {
        let reply = conn.call(Request::CreateSegment(CreateSegment {
            segment: segment.clone(),
        }));
        assert!(matches!(reply, Reply::SegmentCreated(_)), "{reply:?}");
    }
    let (events, event_len) = (80, 1 << 20);
    for event in 0..events {
        for (i, segment) in segments.iter().enumerate() {
            // Appends may meet a full journal for a moment while the
            // flusher catches up: that refusal is retryable.
            let mut attempts = 0;
            loop {
                let reply = conn.call(Request::Append(Append {
                    segment: segment.clone(),
                    writer_id: 1,
                    event_number: event as i64,
                    payload: payload(i, event, event_len),
                }));
                match reply {
                    Reply::Appended(_) => break,
                    Reply::Error(e) if e.status == StatusCode::StorageFull.code() => {
                        attempts += 1;
                        assert!(attempts < 2000, "the journal never made room: {e:?}");
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    other => panic!("append answered {other:?}"),
                }
            }
        }
    }
    let expected: Vec<Vec<u8>> = (0..segments.len())
        .map(|i| (0..events).flat_map(|e| payload(i, e, event_len)).collect())
        .collect();
    for (segment, bytes) in segments.iter().zip(&expected) {
        assert!(
            crate::read_everything(&mut conn, segment, bytes.len()) == *bytes,
            "{segment} reads back"
        );
    }
    assert!(
        !chunk_files(&node.dir).is_empty(),
        "the data went to hot chunk files"
    );
    let node = node.kill_and_restart();
    let mut conn = Conn::open(node.cores[0]);
    for (segment, bytes) in segments.iter().zip(&expected) {
        assert!(
            crate::read_everything(&mut conn, segment, bytes.len()) == *bytes,
            "{segment} reads back after a kill"
        );
    }
    for segment in &segments {
        let reply = conn.call(Request::Delete(Delete {
            segment: segment.clone(),
        }));
        assert!(matches!(reply, Reply::Deleted(_)), "{reply:?}");
    }
    let mut waited = 0;
    while !chunk_files(&node.dir).is_empty() {
        waited += 1;
        assert!(
            waited < 600,
            "unused hot chunk files stayed: {:?}",
            chunk_files(&node.dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(node.terminate().success());
}

/// Sends `CompactNow` to every core; the bytes stored in the tier.
fn compact_now(node: &Node, drop_hot: bool) -> u64 {
    node.cores
        .iter()
        .map(|&core| {
            let reply = Conn::open(core).call(Request::CompactNow(CompactNow { drop_hot }));
            match reply {
                Reply::CompactedNow(done) => {
                    assert!(done.has_tier);
                    done.tiered_bytes
                }
                other => panic!("CompactNow answered {other:?}"),
            }
        })
        .sum()
}

/// Bytes in the tier's directories (shards and manifests).
fn tier_bytes(dirs: &[std::path::PathBuf]) -> u64 {
    dirs.iter()
        .flat_map(|d| walk(d))
        .map(|f| f.metadata().map_or(0, |m| m.len()))
        .sum()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

fn wipe(dir: &Path) {
    std::fs::remove_dir_all(dir).expect("wiped");
    std::fs::create_dir_all(dir).expect("recreated empty");
}

#[test]
fn compacted_data_reads_back_from_the_tier_even_with_a_directory_lost() {
    let root = std::env::temp_dir().join(format!("spate-tier-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let dirs: Vec<std::path::PathBuf> = (0..3).map(|i| root.join(format!("hdd{i}"))).collect();
    let mut args = vec!["--ec".to_string(), "2+1".into()];
    for dir in &dirs {
        std::fs::create_dir_all(dir).expect("tier dir");
        args.extend(["--tier-dir".into(), dir.display().to_string()]);
    }
    let extra = crate::support::Extra { args, env: vec![] };
    let node = Node::start_extra("tier", 2, extra);
    let mut conn = Conn::open(node.cores[0]);
    let segments: Vec<String> = (0..3).map(|i| format!("s/tier/{i}")).collect();
    let (events, event_len) = (12, 700 << 10);
    for (i, segment) in segments.iter().enumerate() {
        let created = conn.call(Request::CreateSegment(CreateSegment {
            segment: segment.clone(),
        }));
        assert!(matches!(created, Reply::SegmentCreated(_)), "{created:?}");
        for event in 0..events {
            let reply = conn.call(Request::Append(Append {
                segment: segment.clone(),
                writer_id: 1,
                event_number: event as i64,
                payload: payload(i, event, event_len),
            }));
            assert!(matches!(reply, Reply::Appended(_)), "{reply:?}");
        }
    }
    let sealed = conn.call(Request::Seal(Seal {
        segment: segments[0].clone(),
    }));
    assert!(matches!(sealed, Reply::Sealed(_)), "{sealed:?}");
    let stored = compact_now(&node, true);
    assert!(
        stored >= (3 * events * event_len) as u64,
        "stored {stored} bytes"
    );
    assert!(
        chunk_files(&node.dir).is_empty(),
        "local copies dropped: {:?}",
        chunk_files(&node.dir)
    );
    let expected: Vec<Vec<u8>> = (0..segments.len())
        .map(|i| (0..events).flat_map(|e| payload(i, e, event_len)).collect())
        .collect();
    let node = node.kill_and_restart();
    let mut conn = Conn::open(node.cores[1]);
    for (segment, bytes) in segments.iter().zip(&expected) {
        assert!(
            crate::read_everything(&mut conn, segment, bytes.len()) == *bytes,
            "{segment} from the tier"
        );
    }
    // Deleting a segment deletes its data from the tier too.
    let extra = conn.call(Request::CreateSegment(CreateSegment {
        segment: "s/tier/gone".into(),
    }));
    assert!(matches!(extra, Reply::SegmentCreated(_)), "{extra:?}");
    for event in 0..events {
        let reply = conn.call(Request::Append(Append {
            segment: "s/tier/gone".into(),
            writer_id: 1,
            event_number: event as i64,
            payload: payload(9, event, event_len),
        }));
        assert!(matches!(reply, Reply::Appended(_)), "{reply:?}");
    }
    let before = tier_bytes(&dirs);
    compact_now(&node, true);
    assert!(
        tier_bytes(&dirs) > before,
        "the new segment went to the tier"
    );
    let deleted = conn.call(Request::Delete(Delete {
        segment: "s/tier/gone".into(),
    }));
    assert!(matches!(deleted, Reply::Deleted(_)), "{deleted:?}");
    let mut waited = 0;
    while tier_bytes(&dirs) > before + (1 << 20) {
        waited += 1;
        assert!(
            waited < 600,
            "the deleted segment's tier data stayed: {} bytes",
            tier_bytes(&dirs)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // One directory lost (m = 1): every byte still reads back, rebuilt.
    wipe(&dirs[1]);
    let node = node.kill_and_restart();
    let mut conn = Conn::open(node.cores[0]);
    for (segment, bytes) in segments.iter().zip(&expected) {
        assert!(
            crate::read_everything(&mut conn, segment, bytes.len()) == *bytes,
            "{segment} degraded"
        );
    }
    // Two lost: past the parity, a read fails and returns no bytes.
    wipe(&dirs[2]);
    let node = node.kill_and_restart();
    let mut conn = Conn::open(node.cores[0]);
    let reply = conn.call(Request::Read(Read {
        segment: segments[1].clone(),
        offset: 0,
        max_bytes: 1 << 20,
        wait_ms: 0,
    }));
    assert!(
        matches!(&reply, Reply::Error(e) if e.status == StatusCode::StorageFailed.code()),
        "{reply:?}"
    );
    drop(node);
    let _ = std::fs::remove_dir_all(&root);
}

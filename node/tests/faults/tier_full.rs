//! ENOSPC on a tier directory (a small loop-mounted ext4, filled up; root
//! only, `SPATE_LOOP_TESTS=1`): storing in the tier waits and says so, the
//! data stays in hot chunk files and reads back; once space returns,
//! compaction completes and the data reads back from the tier.

use spate_wire::{CompactNow, CompactedNow, Reply, Request, Seal};

use crate::harness::{Conn, FaultyNode, Launch, append_request, create, event_bytes, read_all};
use crate::loop_fs::LoopFs;

const SEGMENT: &str = "s/faults/tiered";
const EVENTS: i64 = 12;
const EVENT_BYTES: usize = 700 << 10;
/// The log line that says storing waits (`runtime/flusher.rs`).
const TIER_FULL: &str = "a tier directory is full";

fn compact(conn: &mut Conn) -> CompactedNow {
    match conn.call(Request::CompactNow(CompactNow { drop_hot: true })) {
        Reply::CompactedNow(done) => done,
        other => panic!("CompactNow answered {other:?}"),
    }
}

#[test]
fn a_full_tier_directory_pauses_compaction_without_losing_anything() {
    let Some(fs) = LoopFs::mount("tier-full", 32) else {
        return;
    };
    let dir = FaultyNode::fresh_dir("tier-full");
    let tier_dirs = [dir.join("t0"), dir.join("t1"), fs.mount.join("t2")];
    let mut args = vec!["--ec".to_string(), "2+1".into()];
    for tier_dir in &tier_dirs {
        std::fs::create_dir_all(tier_dir).expect("tier directory");
        args.extend(["--tier-dir".into(), tier_dir.display().to_string()]);
    }
    let filler = fs.mount.join("filler");
    fs.fill(&filler);
    let launch = Launch {
        args,
        cache_mib: 64,
        ..Launch::default()
    };
    let node = FaultyNode::start(dir.clone(), launch).expect("the node starts");
    let mut conn = Conn::open(node.addr, std::time::Duration::from_secs(60));
    create(&mut conn, SEGMENT);
    let mut expected = Vec::new();
    for event in 0..EVENTS {
        let payload = event_bytes(event, EVENT_BYTES);
        expected.extend_from_slice(&payload);
        let reply = conn.call(append_request(SEGMENT, 1, event, payload));
        assert!(matches!(reply, Reply::Appended(_)), "{reply:?}");
    }
    let sealed = conn.call(Request::Seal(Seal {
        segment: SEGMENT.into(),
    }));
    assert!(matches!(sealed, Reply::Sealed(_)), "{sealed:?}");

    let waiting = compact(&mut conn);
    assert_eq!(
        waiting.dropped_files, 0,
        "nothing dropped while the tier is full: {waiting:?}"
    );
    assert!(node.log().contains(TIER_FULL), "the node says why");
    assert!(
        read_all(&mut conn, SEGMENT) == expected,
        "the data reads back from hot chunk files"
    );

    std::fs::remove_file(&filler).expect("room again");
    let done = compact(&mut conn);
    assert!(done.tiered_bytes > 0 && done.dropped_files >= 1, "{done:?}");
    assert!(
        read_all(&mut conn, SEGMENT) == expected,
        "the data reads back from the tier"
    );
    let node = node.restart(None).expect("restarts");
    let mut conn = Conn::open(node.addr, std::time::Duration::from_secs(60));
    assert!(
        read_all(&mut conn, SEGMENT) == expected,
        "and after a restart"
    );
    println!(
        "fault tier-full: compaction waited for room, then stored {} bytes",
        done.tiered_bytes
    );
    assert!(node.terminate().success());
}

//! Byte streams against a real node: raw bytes round-trip in any piece
//! sizes, seek, head and tail offsets, truncation, seal.

use std::time::Duration;

use spate_client::{ByteStreamReader, ByteStreamWriter, StatusCode};
use spate_wire::stream::StreamConfig;

use crate::streams::{connect, stream};
use crate::support::Node;

/// A deterministic byte pattern and piece sizes (xorshift), no dependency.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn read_exactly(reader: &mut ByteStreamReader, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = reader.read(&mut out[filled..]).expect("read");
        assert!(n > 0, "stream ended at {filled} of {len}");
        filled += n;
    }
    out
}

#[test]
fn byte_streams_round_trip_seek_truncate_and_seal() {
    let node = Node::start("byte-streams", 2);
    let client = connect(&node);
    let name = stream(&client, "bytes", "blob", StreamConfig::fixed(1));

    let wide = stream(&client, "bytes", "wide", StreamConfig::fixed(2));
    let refused = ByteStreamWriter::open(&client, &wide).expect_err("two segments");
    assert!(refused.reason().contains("not a byte stream"), "{refused}");

    let mut seed = 0x9e37_79b9_7f4a_7c15;
    let total = 3 * 1024 * 1024 + 12_345;
    let data: Vec<u8> = (0..total).map(|_| xorshift(&mut seed) as u8).collect();
    let mut writer = ByteStreamWriter::open(&client, &name).expect("writer");
    let mut reader = ByteStreamReader::open(&client, &name).expect("reader");
    assert_eq!(reader.current_offset(), 0);
    assert_eq!(reader.available().expect("available"), 0);

    let mut written = 0;
    while written < total {
        let piece = (xorshift(&mut seed) % 70_000) as usize + 1;
        let end = (written + piece).min(total);
        writer.write(&data[written..end]).expect("write");
        written = end;
    }
    writer.flush().expect("flush");
    assert_eq!(writer.fetch_tail_offset().expect("tail"), total as u64);
    assert_eq!(reader.fetch_tail_offset().expect("tail"), total as u64);

    // Read all of it back in odd-sized reads.
    let mut back = Vec::with_capacity(total);
    let mut buf = vec![0u8; 50_001];
    while back.len() < total {
        let n = reader.read(&mut buf).expect("read");
        assert!(n > 0);
        back.extend_from_slice(&buf[..n]);
    }
    assert!(back == data, "bytes differ");
    assert_eq!(reader.current_offset(), total as u64);

    // Bytes arriving at the tail wake a waiting reader and count as available.
    writer.write(b"tail bytes").expect("write");
    writer.flush().expect("flush");
    assert_eq!(read_exactly(&mut reader, 10), b"tail bytes");
    let total = total + 10;

    // Seek back and forward.
    reader.seek_to_offset(1_000_000);
    assert_eq!(reader.current_offset(), 1_000_000);
    assert_eq!(read_exactly(&mut reader, 4096), &data[1_000_000..1_004_096]);
    reader.seek_to_offset(17);
    assert_eq!(read_exactly(&mut reader, 100), &data[17..117]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while reader.available().expect("available") == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing prefetched");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Truncate: the head moves; a read below it is a clear error.
    writer.truncate_data_before(2_000_000).expect("truncate");
    assert_eq!(writer.fetch_head_offset().expect("head"), 2_000_000);
    reader.seek_to_offset(1_500_000);
    let error = reader.read(&mut buf).expect_err("truncated");
    assert_eq!(
        error.status(),
        Some(StatusCode::SegmentTruncated),
        "{error}"
    );
    assert!(error.reason().contains("2000000"), "{error}");
    let fresh = ByteStreamReader::open(&client, &name).expect("reader");
    assert_eq!(fresh.current_offset(), 2_000_000);
    reader.seek_to_offset(2_000_000);
    assert_eq!(read_exactly(&mut reader, 10), &data[2_000_000..2_000_010]);

    // Seal: a reader gets the rest and then the end; writes are refused.
    writer.write(b"last").expect("write");
    writer.seal().expect("seal");
    let total = total + 4;
    reader.seek_to_offset(total as u64 - 14);
    let rest = read_exactly(&mut reader, 14);
    assert_eq!(&rest, b"tail byteslast");
    assert_eq!(reader.read(&mut buf).expect("end"), 0);
    assert_eq!(reader.read(&mut buf).expect("end again"), 0);
    let mut late = ByteStreamWriter::open(&client, &name).expect("writer");
    late.write(b"x").expect("queued");
    assert!(
        late.flush()
            .expect_err("sealed")
            .reason()
            .contains("sealed")
    );
}

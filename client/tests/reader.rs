//! The segment reader: chunks in order, prefetch, tail long polls, and the
//! ways reading ends.

mod support;

use std::thread;
use std::time::Duration;

use spate_client::{ClientOptions, ReadChunk, ReadOutcome, ReaderOptions, SegmentReader};
use spate_wire::MessageType;
use support::{ServerOptions, block_on, create, quick_options, start, start_with, wait_until};

fn options(max_read_bytes: u32, wait: Duration) -> ClientOptions {
    ClientOptions {
        reader: ReaderOptions {
            max_read_bytes,
            wait,
            prefetch_chunks: 2,
        },
        ..quick_options()
    }
}

fn chunk(reader: &mut SegmentReader) -> ReadChunk {
    match reader.read().wait() {
        Ok(ReadOutcome::Data(chunk)) => chunk,
        other => panic!("expected data, got {other:?}"),
    }
}

fn fill(client: &spate_client::Client, segment: &str, bytes: &[u8]) {
    create(client, segment);
    let writer = client.segment_writer(segment, 1).expect("writer");
    writer.append(bytes.to_vec()).wait().expect("appended");
}

#[test]
fn reads_chunks_in_order_and_fetches_ahead() {
    let (server, client) = start_with(ServerOptions::default(), options(4, Duration::from_secs(5)));
    fill(&client, "rd/chunks", b"abcdefghijkl");
    client.seal("rd/chunks").wait().expect("sealed");
    let mut reader = client.segment_reader("rd/chunks", 0).expect("reader");
    let first = chunk(&mut reader);
    assert_eq!(
        (first.offset, first.data.as_slice(), first.end_of_segment),
        (0, &b"abcd"[..], false)
    );
    // The next read was sent before the application asked for it.
    wait_until("a read goes ahead", || {
        server.frames_total(MessageType::Read) >= 2
    });
    assert_eq!(chunk(&mut reader).data, b"efgh");
    let last = chunk(&mut reader);
    assert_eq!(
        (last.offset, last.data.as_slice(), last.end_of_segment),
        (8, &b"ijkl"[..], true)
    );
    for _ in 0..2 {
        assert_eq!(
            reader.read().wait(),
            Ok(ReadOutcome::EndOfSegment { offset: 12 })
        );
    }
}

#[test]
fn a_read_at_the_tail_waits_for_data_across_empty_long_polls() {
    let (server, client) = start_with(
        ServerOptions::default(),
        options(1024, Duration::from_millis(10)),
    );
    create(&client, "rd/tail");
    let mut reader = client.segment_reader("rd/tail", 0).expect("reader");
    let read = reader.read();
    // Empty long polls come back and are asked again, unseen by the reader.
    wait_until("two long polls", || {
        server.frames_total(MessageType::Read) >= 2
    });
    let writer = client.segment_writer("rd/tail", 1).expect("writer");
    let appender = thread::spawn(move || writer.append(b"news".to_vec()).wait());
    match read.wait() {
        Ok(ReadOutcome::Data(chunk)) => {
            assert_eq!((chunk.offset, chunk.data), (0, b"news".to_vec()))
        }
        other => panic!("expected data, got {other:?}"),
    }
    appender.join().expect("joined").expect("appended");
}

#[test]
fn truncation_is_an_outcome_and_seek_goes_on_from_the_start() {
    let (_server, client) = start();
    fill(&client, "rd/trunc", b"0123456789");
    client.truncate("rd/trunc", 4).wait().expect("truncated");
    let mut reader = client.segment_reader("rd/trunc", 0).expect("reader");
    assert_eq!(
        reader.read().wait(),
        Ok(ReadOutcome::Truncated { start_offset: 4 })
    );
    reader.seek(4);
    assert_eq!(reader.offset(), 4);
    assert_eq!(chunk(&mut reader).data, b"456789");
}

#[test]
fn a_missing_segment_and_a_bad_offset_are_reported() {
    let (_server, client) = start();
    let mut reader = client.segment_reader("rd/missing", 0).expect("reader");
    assert_eq!(reader.read().wait(), Ok(ReadOutcome::NoSuchSegment));
    fill(&client, "rd/short", b"ab");
    let mut reader = client.segment_reader("rd/short", 10).expect("reader");
    let error = reader.read().wait().expect_err("beyond the length");
    assert!(
        matches!(error, spate_client::ClientError::InvalidRequest { .. }),
        "{error}"
    );
}

#[test]
fn reads_work_as_futures_on_a_trivial_executor() {
    let (_server, client) =
        start_with(ServerOptions::default(), options(3, Duration::from_secs(5)));
    fill(&client, "rd/async", b"abcdef");
    let mut reader = client.segment_reader("rd/async", 0).expect("reader");
    let writer = client.segment_writer("rd/async", 2).expect("writer");
    let data = block_on(async {
        let mut data = Vec::new();
        while data.len() < 9 {
            if data.len() == 6 {
                // At the tail now: the next read waits for this append.
                let _ack = writer.append(b"ghi".to_vec());
            }
            match reader.read().await.expect("read") {
                ReadOutcome::Data(chunk) => data.extend(chunk.data),
                other => panic!("expected data, got {other:?}"),
            }
        }
        data
    });
    assert_eq!(data, b"abcdefghi");
}

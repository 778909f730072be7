//! Micro-benchmarks of the per-record CPU cost: checksumming, encoding and
//! decoding. `cargo bench -p spate-bench --bench record`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use spate_journal::RecordKind;
use spate_journal::format::record::{
    RECORD_HEADER_LEN, RecordHeader, RecordIdentity, encode_record, record_footprint,
};

/// Payload sizes: a small event, a typical one, a large batch.
const SIZES: [usize; 3] = [64, 1024, 64 * 1024];

fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + 17) as u8).collect()
}

fn label(len: usize) -> String {
    if len >= 1024 {
        format!("{} KiB", len / 1024)
    } else {
        format!("{len} B")
    }
}

fn identity() -> RecordIdentity {
    RecordIdentity {
        kind: RecordKind::Data,
        lsn: 1 << 40,
        file_seq: 7,
        durable_lsn: (1 << 40) - 3,
    }
}

fn crc(c: &mut Criterion) {
    let mut group = c.benchmark_group("crc32c");
    for len in SIZES {
        let bytes = payload(len);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(label(len)),
            &bytes,
            |b, bytes| b.iter(|| crc32c::crc32c(black_box(bytes))),
        );
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_record");
    for len in SIZES {
        let bytes = payload(len);
        let mut dst = vec![0u8; record_footprint(len)];
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(label(len)),
            &bytes,
            |b, bytes| b.iter(|| encode_record(black_box(&mut dst), identity(), black_box(bytes))),
        );
    }
    group.finish();
}

/// Decoding a header and verifying the record's checksum: what recovery does
/// per record.
fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_and_verify");
    for len in SIZES {
        let mut record = vec![0u8; record_footprint(len)];
        encode_record(&mut record, identity(), &payload(len));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(label(len)),
            &record,
            |b, record| {
                b.iter(|| {
                    let header = RecordHeader::decode(black_box(record), u32::MAX);
                    let header = header.unwrap_or_else(|| panic!("a record encoded above decodes"));
                    let body = &record[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len];
                    header.verify(&record[..RECORD_HEADER_LEN], body)
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, crc, encode, decode);
criterion_main!(benches);

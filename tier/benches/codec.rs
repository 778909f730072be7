//! Stripe encode and degraded decode, in GB/s of segment data per core, and
//! a whole stripe read through the tier (checksums and copies included), on
//! simulated directories so the disk is not what is measured.
//! `cargo bench -p spate-tier --bench codec`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use spate_tier::codec::StripeCodec;
use spate_tier::format::geometry::{Codec, Geometry};
use spate_tier::fs::sim::SimFs;
use spate_tier::{Tier, TierConfig};

const CELL: usize = 1 << 20;
const SHAPES: [(u8, u8); 3] = [(4, 2), (6, 3), (10, 4)];

fn geometry(k: u8, m: u8) -> Geometry {
    Geometry {
        codec: Codec::ReedSolomonLeopard16,
        k,
        m,
        cell_size: CELL as u32,
    }
}

fn cells(k: u8) -> Vec<Vec<u8>> {
    (0..usize::from(k))
        .map(|i| {
            (0..CELL)
                .map(|j| (j * 31 + i * 7 + j / 4096) as u8)
                .collect()
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for (k, m) in SHAPES {
        let data = cells(k);
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let mut codec = StripeCodec::new();
        let mut parity = Vec::new();
        group.throughput(Throughput::Bytes((usize::from(k) * CELL) as u64));
        group.bench_function(BenchmarkId::from_parameter(format!("{k}+{m} 1MiB")), |b| {
            b.iter(|| codec.encode(geometry(k, m), CELL, black_box(&refs), &mut parity))
        });
    }
    group.finish();
}

/// Lose `m` data cells (the worst case: all of parity needed) and restore them.
fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("degraded_decode");
    for (k, m) in SHAPES {
        for lost in [1, usize::from(m)] {
            let data = cells(k);
            let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
            let mut codec = StripeCodec::new();
            let mut parity = Vec::new();
            codec.encode(geometry(k, m), CELL, &refs, &mut parity);
            let present: Vec<Option<&[u8]>> = refs
                .iter()
                .copied()
                .chain(parity.iter().map(Vec::as_slice))
                .enumerate()
                .map(|(i, cell)| (i >= lost).then_some(cell))
                .collect();
            group.throughput(Throughput::Bytes((usize::from(k) * CELL) as u64));
            let id = format!("{k}+{m} 1MiB lost {lost}");
            group.bench_function(BenchmarkId::from_parameter(id), |b| {
                b.iter(|| {
                    codec
                        .reconstruct(geometry(k, m), CELL, black_box(&present))
                        .expect("enough cells")
                })
            });
        }
    }
    group.finish();
}

/// One 4+2 stripe of 1 MiB cells read through the tier: healthy, and with
/// two data shards gone.
fn stripe_read(c: &mut Criterion) {
    let mut group = c.benchmark_group("stripe_read");
    let config = TierConfig {
        max_read_bytes: 4 * CELL,
        parallel_writes: false,
        ..TierConfig::default()
    };
    let data: Vec<u8> = cells(4).concat();
    for lost in [0u8, 2] {
        let sim = SimFs::new(6, 1);
        let mut tier = Tier::open(sim.dirs(), config).expect("opens");
        tier.append("bench", 0, &data).expect("append");
        let manifest = tier.manifest("bench").expect("loads").expect("exists");
        for shard in 0..lost {
            let dir = usize::from(manifest.stripes[0].dirs[usize::from(shard)]);
            let file = spate_tier::format::names::shard_file(
                &spate_tier::format::names::segment_key("bench"),
                0,
                shard,
            );
            assert!(sim.delete(dir, &file));
        }
        group.throughput(Throughput::Bytes(data.len() as u64));
        let id = format!("4+2 1MiB lost {lost}");
        group.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter(|| tier.read("bench", 0, data.len()).expect("reads"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = encode, decode, stripe_read
}
criterion_main!(benches);

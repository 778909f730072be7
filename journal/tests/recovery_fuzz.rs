//! A bounded fuzz run of recovery in `cargo test`: random bytes and mutations
//! of real journal files. The coverage-guided version lives in `fuzz/`
//! (`ci/fuzz`); its saved corpus is replayed here too.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use spate_journal::recovery::fuzz::{recover_files, scan_image};
use spate_journal::sim::{Faults, SimDisk};
use spate_journal::{Journal, JournalConfig, RecordKind};

const DEFAULT_CASES: u64 = 3000;

/// A real journal file: the raw material mutations start from.
fn real_journal_bytes(seed: u64) -> Vec<u8> {
    let config = JournalConfig {
        journal_id: 0,
        file_bytes: 16 << 10,
        max_record_bytes: 2048,
        max_write_bytes: 4096,
        max_writes_in_flight: 2,
        max_queued_bytes: 16 << 10,
        max_files: 8,
    };
    let mut rng = SmallRng::seed_from_u64(seed);
    let (mut journal, _) =
        Journal::open(SimDisk::new(seed, Faults::default()), config).expect("opens");
    for i in 0..rng.random_range(1..40) {
        let len = rng.random_range(0..700);
        if journal
            .append(RecordKind::Data, &vec![i as u8; len])
            .is_err()
        {
            let _ = journal.poll(true);
        }
        if rng.random_bool(0.4) {
            let _ = journal.flush();
        }
    }
    let disk = journal.close().expect("closes");
    (0..4)
        .filter_map(|slot| disk.contents(slot).map(<[u8]>::to_vec))
        .flatten()
        .collect()
}

fn mutate(rng: &mut SmallRng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.random_range(1..8) {
        if bytes.is_empty() {
            return;
        }
        let at = rng.random_range(0..bytes.len());
        match rng.random_range(0..4) {
            0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 => bytes[at] = rng.random(),
            2 => bytes.truncate(at),
            _ => {
                let end = (at + rng.random_range(1..600)).min(bytes.len());
                bytes[at..end].fill(0);
            }
        }
    }
}

#[test]
fn recovery_survives_arbitrary_bytes() {
    let cases = std::env::var("SPATE_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let mut rng = SmallRng::seed_from_u64(0xF022);
    for case in 0..cases {
        let mut bytes = if case % 3 == 0 {
            let mut random = vec![0u8; rng.random_range(0..20_000)];
            rng.fill(&mut random[..]);
            random
        } else {
            real_journal_bytes(case)
        };
        mutate(&mut rng, &mut bytes);
        recover_files(&bytes);
        let mut with_params = (case % 4).to_le_bytes().to_vec();
        with_params.extend_from_slice(&1u64.to_le_bytes());
        with_params.extend_from_slice(&bytes);
        scan_image(&with_params);
    }
    let corpus = replay_corpus();
    println!("recovery fuzz: {cases} generated cases and {corpus} corpus files, no panic");
}

/// `SPATE_FUZZ_SEED_CORPUS=1` writes real journal images into the corpus
/// directories, as starting points for the coverage-guided fuzzer.
#[test]
fn seed_the_fuzz_corpus_on_request() {
    if std::env::var_os("SPATE_FUZZ_SEED_CORPUS").is_none() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for seed in 0..8 {
        let bytes = real_journal_bytes(seed);
        std::fs::write(root.join(format!("journal_recover/seed-{seed}")), &bytes)
            .expect("write seed");
        let mut scan = vec![0u8; 16];
        scan[..8].copy_from_slice(&1u64.to_le_bytes());
        scan[8..].copy_from_slice(&1u64.to_le_bytes());
        scan.extend_from_slice(&bytes[..bytes.len().min(16 << 10)]);
        std::fs::write(root.join(format!("journal_scan/seed-{seed}")), &scan).expect("write seed");
    }
}

fn replay_corpus() -> usize {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/journal_recover");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut count = 0;
    for entry in entries.flatten() {
        if let Ok(bytes) = std::fs::read(entry.path()) {
            recover_files(&bytes);
            scan_image(&bytes);
            count += 1;
        }
    }
    count
}

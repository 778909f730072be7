//! Disk faults against a real `spate-node` process: EIO injected into the
//! journal's writes (`eio`), and ENOSPC on the journal directory, injected
//! or from a small loop-mounted filesystem (`disk_full`; the loop cases
//! need root and run only with `SPATE_LOOP_TESTS=1`), and ENOSPC on a tier
//! directory (`tier_full`, loop only). `ci/faults` runs
//! them all; `docs/testing.md` describes each case.

mod disk_full;
mod disk_full_bugs;
mod eio;
mod harness;
mod loop_fs;
mod tier_full;

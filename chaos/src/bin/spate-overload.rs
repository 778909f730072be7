//! `spate-overload`: see `spate_chaos::overload` and `docs/testing.md`.
//!
//! Exit status: 0 when every case passed, 1 when the node failed one (the
//! well-behaved client failed, a check failed, or RSS went over the bound),
//! 2 when the harness itself could not run. The last line is the totals.

use std::process::ExitCode;

use clap::Parser;
use spate_chaos::overload::cli::Args;
use spate_chaos::overload::memory::mib;
use spate_chaos::overload::run;

fn main() -> ExitCode {
    let args = Args::parse();
    let started = std::time::Instant::now();
    match run::run(&args) {
        Ok(verdicts) => {
            let failed = verdicts.iter().filter(|v| !v.passed).count();
            let worst = verdicts.iter().max_by(|a, b| {
                (a.peak as f64 / a.bound as f64).total_cmp(&(b.peak as f64 / b.bound as f64))
            });
            let worst = worst.map_or(String::new(), |v| {
                format!(
                    "; highest peak RSS against its bound: {} of {} ({})",
                    mib(v.peak),
                    mib(v.bound),
                    v.case.name()
                )
            });
            println!(
                "overload: {} cases, {failed} failed{worst}; {:.1} s",
                verdicts.len(),
                started.elapsed().as_secs_f64()
            );
            if failed > 0 || verdicts.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => {
            println!("spate-overload could not run: {error}");
            ExitCode::from(2)
        }
    }
}

//! `spate-crash-loop`: see the crate documentation and `docs/testing.md`.
//!
//! Exit status: 0 when every check passed, 1 when the node broke a
//! promise (lost, duplicated, reordered, invented or corrupted events), 2
//! when the loop itself could not run. The last line is always the counts.

use std::process::ExitCode;

use clap::Parser;
use spate_chaos::cli::{Cli, Worker};
use spate_chaos::run::{CrashLoop, Totals};
use spate_chaos::worker::{EXIT_HARNESS, EXIT_VIOLATION, Stop};
use spate_chaos::{reader, writer};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.worker {
        Some(Worker::Writer(args)) => worker_exit(writer::run(&args)),
        Some(Worker::Reader(args)) => worker_exit(reader::run(&args)),
        None => run_loop(cli.run),
    }
}

fn worker_exit(stop: Stop) -> ExitCode {
    match stop {
        Stop::Violation(text) => {
            eprintln!("violation: {text}");
            ExitCode::from(EXIT_VIOLATION)
        }
        Stop::Harness(text) => {
            eprintln!("cannot go on: {text}");
            ExitCode::from(EXIT_HARNESS)
        }
    }
}

fn run_loop(args: spate_chaos::cli::RunArgs) -> ExitCode {
    let mut crash_loop = match CrashLoop::new(args) {
        Ok(crash_loop) => crash_loop,
        Err(error) => {
            eprintln!("spate-crash-loop: {error}");
            print_totals(Totals::default());
            return ExitCode::from(2);
        }
    };
    let code = match crash_loop.run() {
        Ok(violations) if violations.is_empty() => {
            crash_loop.clean_up();
            ExitCode::SUCCESS
        }
        Ok(violations) => {
            println!("FAILED: {} violation(s):", violations.len());
            for violation in violations.iter().take(50) {
                println!("  {violation}");
            }
            if violations.len() > 50 {
                println!("  ... and {} more", violations.len() - 50);
            }
            println!("the run's files are kept in {}", crash_loop.dir.display());
            ExitCode::from(1)
        }
        Err(error) => {
            println!("spate-crash-loop could not go on: {error}");
            println!("the run's files are kept in {}", crash_loop.dir.display());
            ExitCode::from(2)
        }
    };
    print_totals(crash_loop.totals);
    code
}

/// The last line, in the form CI and the issue expect.
fn print_totals(totals: Totals) {
    println!(
        "iterations: {}, acknowledged: {}, lost: {}",
        totals.iterations, totals.acknowledged, totals.lost
    );
}

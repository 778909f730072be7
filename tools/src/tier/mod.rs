//! `spate tier status|scrub|repair`: the erasure-coded tier's directories,
//! offline, through the tier library (`spate-tier`). Scrub and status only
//! read; repair rewrites what a directory should hold, so it must not run
//! while a node writes to the same tier. `spate tier compact --now` asks a
//! running node to move its data into the tier at once.

mod compact;
mod open;
mod progress;
mod report;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use spate_tier::{RepairEvent, Scope, ScrubEvent};

use crate::Outcome;
use open::Ec;

#[derive(Subcommand)]
pub enum TierCommand {
    /// What each directory should hold by the manifests, and whether it
    /// can be listed. Reads manifests only.
    Status(TierArgs),
    /// Reads and verifies every shard and manifest copy; reports damage
    /// (exit 1 if any).
    Scrub(ScrubArgs),
    /// Rebuilds what directories should hold from the others (exit 1 if
    /// something could not be rebuilt). Not while a node writes the tier.
    Repair(RepairArgs),
    /// Asks a running node (--node) to flush its journals, store its hot
    /// chunk files in the tier and drop the local copies, now.
    Compact(compact::CompactArgs),
}

#[derive(Args)]
pub struct TierArgs {
    /// A tier directory (one per failure domain), repeated, in the same
    /// order as the node's.
    #[arg(long = "tier-dir", value_name = "DIR", required = true)]
    dirs: Vec<PathBuf>,
    /// The tier's erasure code, K data + M parity cells, checked against the
    /// directory count (stripes carry their own code, so it is optional).
    #[arg(long, value_name = "K+M")]
    ec: Option<Ec>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ScrubArgs {
    #[command(flatten)]
    tier: TierArgs,
    /// Only this segment.
    #[arg(long)]
    segment: Option<String>,
    /// Read at most this many MiB/s (default: as fast as the disks go).
    #[arg(long, value_name = "MIB_PER_S")]
    rate_mib: Option<u64>,
}

#[derive(Args)]
pub struct RepairArgs {
    #[command(flatten)]
    tier: TierArgs,
    /// Repair only this directory (its index: 0 for the first --tier-dir);
    /// by default every directory in turn.
    #[arg(long, value_name = "INDEX")]
    dir: Option<usize>,
    /// Read at most this many MiB/s from the other directories.
    #[arg(long, value_name = "MIB_PER_S")]
    rate_mib: Option<u64>,
}

pub fn run(command: TierCommand) -> anyhow::Result<Outcome> {
    match command {
        TierCommand::Status(args) => status(&args),
        TierCommand::Scrub(args) => scrub(&args),
        TierCommand::Repair(args) => repair(&args),
        TierCommand::Compact(args) => compact::compact(&args),
    }
}

fn status(args: &TierArgs) -> anyhow::Result<Outcome> {
    let tier = open::open(&args.dirs, args.ec)?;
    let status = tier.status();
    let healthy = status.problems.is_empty() && status.dirs.iter().all(|d| d.reachable);
    report::status(
        &mut std::io::stdout().lock(),
        &status,
        &args.dirs,
        healthy,
        args.json,
    )?;
    Ok(outcome(healthy))
}

fn scrub(args: &ScrubArgs) -> anyhow::Result<Outcome> {
    let tier = open::open(&args.tier.dirs, args.tier.ec)?;
    // The bar's length: stripes by the manifests (a damaged manifest makes
    // it short, which only shows as a bar that ends early).
    let total = match &args.segment {
        Some(segment) => tier
            .manifest(segment)
            .ok()
            .flatten()
            .map_or(0, |m| m.stripes.len() as u64),
        None => tier.status().stripes,
    };
    let bar = progress::bar(total, "scrub");
    let scope = args.segment.as_deref().map_or(Scope::All, Scope::Segment);
    // Damage is listed once, in the report; the bar only counts it.
    let (mut read, mut damaged) = (0u64, 0u64);
    let report = tier.scrub(scope, bytes_per_s(args.rate_mib), &mut |event| {
        match event {
            ScrubEvent::Stripe { bytes, .. } => {
                bar.inc(1);
                read += bytes;
            }
            ScrubEvent::Damage(_) | ScrubEvent::Unrecoverable { .. } => damaged += 1,
        }
        bar.set_message(format!(
            "stripes, {} read, {damaged} damaged",
            indicatif::HumanBytes(read)
        ));
    });
    bar.finish_and_clear();
    let report = report?;
    report::scrub(
        &mut std::io::stdout().lock(),
        &report,
        &args.tier.dirs,
        args.tier.json,
    )?;
    Ok(outcome(report.damage_count == 0))
}

fn repair(args: &RepairArgs) -> anyhow::Result<Outcome> {
    let mut tier = open::open(&args.tier.dirs, args.tier.ec)?;
    let status = tier.status();
    let dirs: Vec<usize> = match args.dir {
        Some(dir) => vec![dir],
        None => (0..args.tier.dirs.len()).collect(),
    };
    let mut reports = Vec::new();
    for dir in dirs {
        let should_hold = status.dirs.get(dir).map_or(0, |d| d.stripes);
        let bar = progress::bar(should_hold, &format!("repair dir {dir}"));
        let mut rebuilt = 0u64;
        let report = tier.repair(dir, bytes_per_s(args.rate_mib), &mut |event| {
            // Unrecoverable stripes are listed once, in the report.
            if let RepairEvent::Shard { rebuilt: was, .. } = event {
                bar.inc(1);
                rebuilt += u64::from(was);
            }
            bar.set_message(format!("shards, {rebuilt} rebuilt"));
        });
        bar.finish_and_clear();
        reports.push((dir, report?));
    }
    report::repair(
        &mut std::io::stdout().lock(),
        &reports,
        &args.tier.dirs,
        args.tier.json,
    )?;
    Ok(outcome(!reports.iter().any(|(_, r)| report::unrepaired(r))))
}

fn bytes_per_s(mib: Option<u64>) -> Option<u64> {
    mib.map(|m| m.saturating_mul(1 << 20))
}

fn outcome(healthy: bool) -> Outcome {
    if healthy {
        Outcome::Healthy
    } else {
        Outcome::Damaged
    }
}

//! `spate-bench compare`: one workload on several systems in turn, with one
//! device floor measured first, and one table (or one JSON object) of their
//! figures and their ratios to a baseline (Spate, when it is among them).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::append::{self, AppendReport, OutputArgs, Targets};
use crate::driver::DriverKind;
use crate::floor::FloorReport;
use crate::progress::ProgressMode;
use crate::spec::{Workload, WorkloadFlags};
use crate::stats::ratio;

#[derive(Clone, Debug, clap::Args)]
pub struct CompareArgs {
    /// Systems to run, in this order (comma separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "spate,redis,nats"
    )]
    pub drivers: Vec<DriverKind>,
    #[command(flatten)]
    pub workload: WorkloadFlags,
    #[command(flatten)]
    pub targets: Targets,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The JSON of `compare --json` and of `report.json`.
#[derive(Serialize)]
pub struct CompareReport {
    pub workload: &'static str,
    pub name: String,
    pub drivers: Vec<DriverKind>,
    /// The floor every result was measured against (also in each result).
    pub floor: FloorReport,
    /// One `append` report per driver that ran.
    pub results: BTreeMap<&'static str, AppendReport>,
    /// Baseline figure over each driver's: for latencies below 1 means the
    /// baseline is faster; for `events_per_s` above 1 means it moved more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratios: Option<Ratios>,
    /// Drivers that could not run, with why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
pub struct Ratios {
    pub baseline: DriverKind,
    pub drivers: BTreeMap<&'static str, VsBaseline>,
}

#[derive(Serialize)]
pub struct VsBaseline {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub events_per_s: f64,
}

pub fn main(args: &CompareArgs) -> anyhow::Result<()> {
    let mut drivers = args.drivers.clone();
    drivers.dedup();
    if drivers.is_empty() {
        anyhow::bail!("--drivers names no driver");
    }
    let workload = args.workload.resolve()?;
    if workload.txn_events > 0 {
        anyhow::bail!(
            "txn_events: compare runs plain appends on each system; run a transaction workload \
             with spate-bench txn (or append)"
        );
    }
    let progress = ProgressMode::choose(args.output.progress);
    let floor = append::measure_floor(&args.output.floor_dir, &workload, progress)?;
    let runtime = append::runtime()?;
    let mut ran = Vec::new();
    let mut errors = BTreeMap::new();
    for &driver in &drivers {
        let outcome = append::run(
            driver,
            &args.targets,
            &workload,
            &floor,
            &runtime,
            progress,
            args.output.keep,
        );
        match outcome {
            Ok(report) => ran.push(report),
            Err(e) => {
                eprintln!(
                    "spate-bench: {} at {}: {e:#}",
                    driver.name(),
                    args.targets.of(driver)
                );
                errors.insert(driver.name(), format!("{e:#}"));
            }
        }
    }
    let report = CompareReport::new(&workload, drivers, floor, &ran, errors);
    if let Some(dir) = &args.output.report {
        crate::html::write_report(dir, &report, &ran)?;
    }
    if args.output.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", table(&workload, &ran, report.ratios.as_ref()));
    }
    if !report.errors.is_empty() {
        anyhow::bail!(
            "{} of {} drivers could not run",
            report.errors.len(),
            report.drivers.len()
        );
    }
    Ok(())
}

impl CompareReport {
    fn new(
        workload: &Workload,
        drivers: Vec<DriverKind>,
        floor: FloorReport,
        ran: &[AppendReport],
        errors: BTreeMap<&'static str, String>,
    ) -> Self {
        Self {
            workload: "compare",
            name: workload.name.clone(),
            drivers,
            floor,
            results: ran.iter().map(|r| (r.driver.name(), r.clone())).collect(),
            ratios: ratios(ran),
            errors,
        }
    }
}

/// Ratios to Spate's figures, or to the first driver's without Spate.
fn ratios(ran: &[AppendReport]) -> Option<Ratios> {
    let baseline = ran
        .iter()
        .find(|r| r.driver == DriverKind::Spate)
        .or_else(|| ran.first())?;
    let b = &baseline.latency_us;
    let drivers = ran
        .iter()
        .map(|r| {
            let l = &r.latency_us;
            let vs = VsBaseline {
                p50: ratio(b.p50, l.p50),
                p99: ratio(b.p99, l.p99),
                p999: ratio(b.p999, l.p999),
                max: ratio(b.max, l.max),
                events_per_s: ratio(baseline.throughput.events_per_s, r.throughput.events_per_s),
            };
            (r.driver.name(), vs)
        })
        .collect();
    Some(Ratios {
        baseline: baseline.driver,
        drivers,
    })
}

fn table(workload: &Workload, ran: &[AppendReport], ratios: Option<&Ratios>) -> String {
    let mut out = String::new();
    let rate = match workload.rate_per_s() {
        Some(r) => format!("{r} events/s"),
        None => format!("max rate, {} in flight", workload.window),
    };
    let _ = writeln!(
        out,
        "{}: {} producer(s), {} segment(s), {} B events, {rate}, {} s after {} s warm-up",
        workload.name,
        workload.producers,
        workload.segments,
        workload.event_bytes,
        workload.seconds,
        workload.warmup
    );
    let base = ratios.map_or("", |r| r.baseline.name());
    let _ = writeln!(
        out,
        "{:<7} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "driver",
        "events/s",
        "MB/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "max µs",
        format!("{base} p99÷"),
        format!("{base} ev/s÷")
    );
    for r in ran {
        let l = &r.latency_us;
        let (p99, tput) = ratios
            .and_then(|x| x.drivers.get(r.driver.name()))
            .map_or((f64::NAN, f64::NAN), |v| (v.p99, v.events_per_s));
        let _ = writeln!(
            out,
            "{:<7} {:>10.0} {:>8.2} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>9.3} {:>9.3}",
            r.driver.name(),
            r.throughput.events_per_s,
            r.throughput.mb_per_s,
            l.p50,
            l.p99,
            l.p999,
            l.max,
            p99,
            tput
        );
    }
    if let Some(r) = ran.first() {
        let f = r.floor.write_4k(r.floor.faster_sync());
        let _ = writeln!(
            out,
            "device floor: 4 KiB durable write p50 {:.1} µs, p99 {:.1} µs; sequential write {:.0} MB/s",
            f.p50, f.p99, r.floor.seq_write_mb_per_s
        );
    }
    if ratios.is_some() {
        let _ = writeln!(
            out,
            "{base} p99÷: {base}'s p99 over this driver's (below 1: {base} is faster); \
             {base} ev/s÷: {base}'s throughput over this driver's (above 1: {base} moved more)"
        );
    }
    for r in ran {
        let _ = writeln!(out, "{}: {}", r.driver.name(), r.config.durability);
    }
    out
}

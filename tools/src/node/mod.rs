//! `spate node status`: a node's figures from its metrics page
//! (`spate-node --metrics`), per core, with rates from two scrapes.

mod prom;
mod quantile;
mod render;
mod scrape;
mod status;

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::Outcome;
use prom::Page;
use scrape::{ScrapeError, fetch, normalize};
use status::NodeStatus;

#[derive(Subcommand)]
pub enum NodeCommand {
    /// Per core: containers, segments, append and read rates, journal and
    /// cache use, connections, refusals; and the node's machine.
    Status(StatusArgs),
}

#[derive(Args)]
pub struct StatusArgs {
    /// The node's metrics address (what spate-node was given as --metrics).
    #[arg(long, env = "SPATE_METRICS", value_name = "HOST:PORT")]
    metrics: Option<String>,
    /// Milliseconds between the two scrapes that rates are computed from.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    interval_ms: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(command: NodeCommand) -> anyhow::Result<Outcome> {
    match command {
        NodeCommand::Status(args) => status(&args),
    }
}

fn status(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let addr = normalize(args.metrics.as_deref().ok_or(ScrapeError::NoAddress)?);
    let first = Instant::now();
    let before = scrape(&addr)?;
    std::thread::sleep(Duration::from_millis(args.interval_ms));
    let elapsed = first.elapsed().as_secs_f64();
    let after = scrape(&addr)?;
    let status = NodeStatus::from_scrapes(&addr, &before, &after, elapsed)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        render::json(&mut out, &status)?;
    } else {
        render::text(&mut out, &status)?;
    }
    Ok(Outcome::Healthy)
}

fn scrape(addr: &str) -> anyhow::Result<Page> {
    let text = fetch(addr)?;
    Page::parse(&text).with_context(|| format!("{addr} sent a page that is not Prometheus text"))
}

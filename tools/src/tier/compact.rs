//! `spate tier compact --now`: asks a running node to flush, close its hot
//! chunk files, store them in the tier and (unless `--keep-hot`) drop the
//! local copies the tier now holds, on every core, and says what moved.

use anyhow::bail;
use clap::Args;

use crate::Outcome;
use crate::streams::{NodeArgs, print_out};

#[derive(Args)]
pub struct CompactArgs {
    #[command(flatten)]
    node: NodeArgs,
    /// Do it now (the node otherwise stores closed files about once a
    /// second, and drops local copies only past its hot budget).
    #[arg(long)]
    now: bool,
    /// Keep the local copies of what the tier stored.
    #[arg(long)]
    keep_hot: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn compact(args: &CompactArgs) -> anyhow::Result<Outcome> {
    if !args.now {
        bail!("`spate tier compact` runs only on demand: pass --now");
    }
    let client = args.node.connect()?;
    let cores = client
        .compact_now(!args.keep_hot)
        .map_err(|e| anyhow::anyhow!("compacting: {e}"))?;
    let has_tier = cores.iter().any(|c| c.has_tier);
    if args.json {
        let per_core: Vec<serde_json::Value> = cores
            .iter()
            .enumerate()
            .map(|(core, c)| {
                serde_json::json!({
                    "core": core,
                    "flushed_bytes": c.flushed_bytes,
                    "tiered_bytes": c.tiered_bytes,
                    "dropped_files": c.dropped_files,
                })
            })
            .collect();
        let json = serde_json::json!({ "has_tier": has_tier, "cores": per_core });
        print_out(&format!("{json}\n"))?;
        return Ok(Outcome::Healthy);
    }
    let mut text = format!(
        "{:>4}  {:>14}  {:>14}  {:>13}\n",
        "core", "flushed", "stored in tier", "local dropped"
    );
    for (core, c) in cores.iter().enumerate() {
        text.push_str(&format!(
            "{core:>4}  {:>14}  {:>14}  {:>13}\n",
            crate::units::bytes(c.flushed_bytes as f64),
            crate::units::bytes(c.tiered_bytes as f64),
            c.dropped_files
        ));
    }
    if !has_tier {
        text.push_str("the node has no --tier-dir: its data stays in hot chunk files\n");
    }
    print_out(&text)?;
    Ok(Outcome::Healthy)
}

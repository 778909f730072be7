//! `spate scope …`, `spate stream …`, `spate write`, `spate read`: scopes,
//! streams and their events on a running node.
//!
//! The node's address comes from `--node HOST:PORT` or `SPATE_NODE`.

mod admin;
mod config;
mod describe;
mod group_read;
mod read;
mod write;

use anyhow::Context;
use clap::Args;
use spate_client::{Client, ClientOptions, StreamName};

pub use admin::{ScopeCommand, StreamCommand, run_scope, run_stream};
pub use read::{ReadArgs, run_read};
pub use write::{WriteArgs, run_write};

/// Where the node is.
#[derive(Args, Clone, Debug)]
pub struct NodeArgs {
    /// The node's address (any core), or set SPATE_NODE.
    #[arg(long, env = "SPATE_NODE", global = true)]
    node: Option<String>,
}

impl NodeArgs {
    pub fn connect(&self) -> anyhow::Result<Client> {
        let addr = self
            .node
            .as_deref()
            .context("no node address: pass --node HOST:PORT or set SPATE_NODE")?;
        Client::connect(addr, ClientOptions::default()).with_context(|| {
            format!("connecting to {addr} (is spate-node running and listening there?)")
        })
    }
}

/// `SCOPE/STREAM` from the command line.
pub fn stream_name(text: &str) -> anyhow::Result<StreamName> {
    text.parse::<StreamName>()
        .map_err(|e| anyhow::anyhow!("{}", e.reason()))
}

/// Prints to stdout; a reader that went away (`| head`) is not an error.
pub fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

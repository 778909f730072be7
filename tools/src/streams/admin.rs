//! Scope and stream administration.

use anyhow::{Context, bail};
use clap::Subcommand;
use spate_client::{Client, StreamCreateOutcome, StreamOutcome};
use spate_wire::stream::{KeyRange, StreamCut, split_evenly};

use super::config::ConfigArgs;
use super::describe::{describe_json, describe_table};
use super::{NodeArgs, print_out, stream_name};
use crate::Outcome;

#[derive(Subcommand)]
pub enum ScopeCommand {
    /// Creates a scope (no error if it exists).
    Create { scope: String },
    /// Lists scopes.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Deletes a scope that holds no streams.
    Delete { scope: String },
}

#[derive(Subcommand)]
pub enum StreamCommand {
    /// Creates a stream in an existing scope.
    Create {
        /// SCOPE/STREAM
        stream: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Lists the streams of a scope.
    List {
        scope: String,
        #[arg(long)]
        json: bool,
    },
    /// Shows segments, key ranges, epochs, sizes and retention.
    Describe {
        /// SCOPE/STREAM
        stream: String,
        #[arg(long)]
        json: bool,
    },
    /// Replaces a stream's configuration.
    Update {
        /// SCOPE/STREAM
        stream: String,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Splits one segment into equal parts (`--split N --parts K`) or merges
    /// neighbouring segments into one (`--merge A,B`).
    Scale {
        /// SCOPE/STREAM
        stream: String,
        #[arg(long, conflicts_with = "merge")]
        split: Option<u64>,
        #[arg(long, default_value_t = 2)]
        parts: u32,
        #[arg(long, value_delimiter = ',')]
        merge: Vec<u64>,
    },
    /// Truncates a stream at a stream cut (`scope/stream@N:OFFSET,…`, as
    /// `stream describe` prints for the tail).
    Truncate { cut: String },
    /// Seals a stream for good.
    Seal {
        /// SCOPE/STREAM
        stream: String,
    },
    /// Deletes a sealed stream and its data.
    Delete {
        /// SCOPE/STREAM
        stream: String,
    },
}

pub fn run_scope(node: &NodeArgs, command: ScopeCommand) -> anyhow::Result<Outcome> {
    let client = node.connect()?;
    match command {
        ScopeCommand::Create { scope } => match client.create_scope(&scope).wait()? {
            StreamCreateOutcome::AlreadyExists => eprintln!("scope {scope} exists already"),
            _ => eprintln!("created scope {scope}"),
        },
        ScopeCommand::List { json } => {
            let scopes = client.list_scopes().wait()?;
            print_names(&scopes, json)?;
        }
        ScopeCommand::Delete { scope } => {
            found(client.delete_scope(&scope).wait()?, &scope)?;
            eprintln!("deleted scope {scope}");
        }
    }
    Ok(Outcome::Healthy)
}

pub fn run_stream(node: &NodeArgs, command: StreamCommand) -> anyhow::Result<Outcome> {
    let client = node.connect()?;
    match command {
        StreamCommand::Create { stream, config } => {
            let name = stream_name(&stream)?;
            match client.create_stream(&name, config.config()?).wait()? {
                StreamCreateOutcome::Created => eprintln!("created stream {name}"),
                StreamCreateOutcome::AlreadyExists => eprintln!("stream {name} exists already"),
                StreamCreateOutcome::NoSuchScope => {
                    bail!(
                        "no scope {}: create it with `spate scope create {}`",
                        name.scope,
                        name.scope
                    )
                }
            }
        }
        StreamCommand::List { scope, json } => {
            let streams = found(client.list_streams(&scope).wait()?, &scope)?;
            print_names(&streams, json)?;
        }
        StreamCommand::Describe { stream, json } => {
            let name = stream_name(&stream)?;
            let info = found(client.describe_stream(&name).wait()?, &stream)?;
            match json {
                true => print_out(&format!("{}\n", describe_json(&info)))?,
                false => print_out(&describe_table(&info))?,
            }
        }
        StreamCommand::Update { stream, config } => {
            let name = stream_name(&stream)?;
            found(
                client.update_stream(&name, config.config()?).wait()?,
                &stream,
            )?;
            eprintln!("updated stream {name}");
        }
        StreamCommand::Scale {
            stream,
            split,
            parts,
            merge,
        } => scale(&client, &stream, split, parts, &merge)?,
        StreamCommand::Truncate { cut } => {
            let cut: StreamCut = cut.parse().context("the stream cut")?;
            found(client.truncate_stream(&cut).wait()?, &cut.to_string())?;
            eprintln!("truncated {}/{} at {cut}", cut.scope, cut.stream);
        }
        StreamCommand::Seal { stream } => {
            let name = stream_name(&stream)?;
            found(client.seal_stream(&name).wait()?, &stream)?;
            eprintln!("sealed stream {name}");
        }
        StreamCommand::Delete { stream } => {
            let name = stream_name(&stream)?;
            found(client.delete_stream(&name).wait()?, &stream)?;
            eprintln!("deleted stream {name}");
        }
    }
    Ok(Outcome::Healthy)
}

fn scale(
    client: &Client,
    stream: &str,
    split: Option<u64>,
    parts: u32,
    merge: &[u64],
) -> anyhow::Result<()> {
    let name = stream_name(stream)?;
    let info = found(client.describe_stream(&name).wait()?, stream)?;
    let range_of = |number: u64| {
        info.current_segments()
            .iter()
            .find(|s| s.number == number)
            .map(|s| s.range)
            .with_context(|| format!("segment {number} is not a current segment of {name}"))
    };
    let (seal, ranges) = match (split, merge) {
        (Some(number), _) => (vec![number], split_evenly(range_of(number)?, parts)?),
        (None, [_, _, ..]) => {
            let mut sealed = merge
                .iter()
                .map(|&n| range_of(n))
                .collect::<anyhow::Result<Vec<KeyRange>>>()?;
            sealed.sort_unstable();
            let union = KeyRange {
                start: sealed[0].start,
                end: sealed[sealed.len() - 1].end,
            };
            (merge.to_vec(), vec![union])
        }
        _ => bail!("say what to scale: --split N [--parts K] or --merge A,B[,…]"),
    };
    let scaled = found(client.scale_stream(&name, seal, ranges).wait()?, stream)?;
    eprintln!(
        "scaled {name}: epoch {}, new segments {:?}",
        scaled.epoch, scaled.new_segments
    );
    Ok(())
}

fn found<T>(outcome: StreamOutcome<T>, what: &str) -> anyhow::Result<T> {
    match outcome {
        StreamOutcome::Done(value) => Ok(value),
        StreamOutcome::NoSuchScope => bail!("no such scope: {what}"),
        StreamOutcome::NoSuchStream => bail!("no such stream: {what}"),
    }
}

fn print_names(names: &[String], json: bool) -> anyhow::Result<()> {
    let text = match json {
        true => format!("{}\n", serde_json::json!(names)),
        false => names.iter().map(|n| format!("{n}\n")).collect(),
    };
    print_out(&text)
}

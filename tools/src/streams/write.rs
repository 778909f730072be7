//! `spate write SCOPE/STREAM`: events from stdin, one per line or
//! length-prefixed, with a routing key from a flag or a field of the line.

use std::io::{BufRead, Read};

use anyhow::{Context, bail};
use clap::Args;
use spate_client::{EventFuture, EventWriter, EventWriterOptions};

use super::{NodeArgs, stream_name};
use crate::Outcome;

#[derive(Args)]
pub struct WriteArgs {
    /// SCOPE/STREAM
    stream: String,
    /// Every event's routing key.
    #[arg(long, conflicts_with = "key_field")]
    key: Option<String>,
    /// Take each line's routing key from field N (1-based) of the line,
    /// split by --delimiter; the whole line is the event.
    #[arg(long)]
    key_field: Option<usize>,
    #[arg(long, default_value = "\t")]
    delimiter: String,
    /// Events on stdin are `len: u32 big-endian` + bytes instead of lines.
    #[arg(long)]
    length_prefixed: bool,
    /// A stable writer name: re-running the same input writes nothing twice.
    #[arg(long)]
    writer_name: Option<String>,
}

/// Events written but not yet acknowledged, at most.
const IN_FLIGHT: usize = 4096;

pub fn run_write(node: &NodeArgs, args: WriteArgs) -> anyhow::Result<Outcome> {
    let name = stream_name(&args.stream)?;
    let client = node.connect()?;
    let options = EventWriterOptions {
        name: args.writer_name.clone(),
    };
    let writer = EventWriter::open(&client, &name, options)
        .with_context(|| format!("opening a writer on {name}"))?;
    let mut acks = std::collections::VecDeque::new();
    let mut written = 0u64;
    // A live count for bulk writes; indicatif draws nothing when stderr is
    // not a terminal.
    let progress = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {human_pos} events written to {prefix} ({per_sec}, {elapsed})",
    ) {
        progress.set_style(style);
    }
    progress.set_prefix(name.to_string());
    let mut send = |event: Vec<u8>, index: u64| -> anyhow::Result<()> {
        let key = routing_key(&args, &event, index)?;
        acks.push_back(writer.write_event(key.as_deref(), &event));
        written += 1;
        if written.is_multiple_of(1024) {
            progress.set_position(written);
        }
        while acks.len() > IN_FLIGHT {
            wait(acks.pop_front())?;
        }
        Ok(())
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    match args.length_prefixed {
        true => read_prefixed(&mut input, &mut send, writer.max_event_bytes())?,
        false => read_lines(&mut input, &mut send)?,
    }
    for ack in acks {
        wait(Some(ack))?;
    }
    writer.close().context("flushing the writer")?;
    progress.finish_and_clear();
    eprintln!("wrote {written} events to {name}");
    Ok(Outcome::Healthy)
}

fn wait(ack: Option<EventFuture>) -> anyhow::Result<()> {
    if let Some(ack) = ack {
        ack.wait().context("an event was not written")?;
    }
    Ok(())
}

fn routing_key(args: &WriteArgs, event: &[u8], index: u64) -> anyhow::Result<Option<Vec<u8>>> {
    if let Some(key) = &args.key {
        return Ok(Some(key.as_bytes().to_vec()));
    }
    let Some(field) = args.key_field else {
        return Ok(None);
    };
    let text = std::str::from_utf8(event)
        .with_context(|| format!("event {index} is not UTF-8, so it has no fields"))?;
    let value = text
        .split(args.delimiter.as_str())
        .nth(field.saturating_sub(1))
        .with_context(|| format!("event {index} has no field {field}"))?;
    Ok(Some(value.as_bytes().to_vec()))
}

fn read_lines(
    input: &mut impl BufRead,
    send: &mut impl FnMut(Vec<u8>, u64) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut index = 0;
    loop {
        let mut line = Vec::new();
        if input
            .read_until(b'\n', &mut line)
            .context("reading stdin")?
            == 0
        {
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        send(line, index)?;
        index += 1;
    }
}

fn read_prefixed(
    input: &mut impl Read,
    send: &mut impl FnMut(Vec<u8>, u64) -> anyhow::Result<()>,
    max_event: usize,
) -> anyhow::Result<()> {
    let mut index = 0;
    loop {
        let mut header = [0u8; 4];
        match read_exact_or_end(input, &mut header)? {
            0 => return Ok(()),
            4 => {}
            n => bail!("input ends inside the length of event {index} ({n} of 4 bytes)"),
        }
        let len = u32::from_be_bytes(header) as usize;
        if len > max_event {
            bail!("event {index} says it is {len} bytes; the most an event may be is {max_event}");
        }
        let mut event = vec![0; len];
        let got = read_exact_or_end(input, &mut event)?;
        if got < len {
            bail!("input ends inside event {index}: {got} of {len} bytes");
        }
        send(event, index)?;
        index += 1;
    }
}

/// Reads until `buf` is full or the input ends; how many bytes it got.
fn read_exact_or_end(input: &mut impl Read, buf: &mut [u8]) -> anyhow::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]).context("reading stdin")? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

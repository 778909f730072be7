//! `spate read SCOPE/STREAM --group GROUP`: one reader of a reader group
//! (created if absent, from the stream's start or `--from`, up to `--to`).
//! Several processes reading with the same group share the stream's
//! segments, each event going to one of them; the group remembers how far
//! it got, so a later run goes on from there. Without `--follow` a reader
//! stops once the group is finished (`--to`) or nothing arrived for
//! `--idle-secs`; it then hands its segments back at its position.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use spate_client::{
    Client, EventRead, ReaderGroup, ReaderGroupConfig, StreamBounds, StreamCut, StreamName,
};

use super::read::emit;
use crate::Outcome;

/// How a group read goes.
pub struct GroupRead<'a> {
    pub group: &'a str,
    pub reader: Option<&'a str>,
    pub from: Option<StreamCut>,
    pub to: Option<StreamCut>,
    pub follow: bool,
    pub idle: Duration,
    pub length_prefixed: bool,
}

pub fn run(client: &Client, name: &StreamName, how: GroupRead<'_>) -> anyhow::Result<Outcome> {
    let config = ReaderGroupConfig {
        streams: vec![StreamBounds {
            stream: name.clone(),
            start: how.from,
            end: how.to,
        }],
        refresh: Duration::from_millis(500),
    };
    let group = ReaderGroup::create(client, &name.scope, how.group, config)
        .with_context(|| format!("opening the reader group {}/{}", name.scope, how.group))?;
    let reader_name = match how.reader {
        Some(reader) => reader.to_owned(),
        None => default_reader_name(),
    };
    let mut reader = match group.reader(&reader_name) {
        Ok(reader) => reader,
        // A named reader that died without leaving: this process takes its
        // place; its segments restart from its last checkpoint or
        // acquisition, so some events may be printed again.
        Err(e) if how.reader.is_some() && e.reason().contains("online") => {
            eprintln!(
                "spate: reader {reader_name:?} was still online in the group; taking its place"
            );
            group.reader_offline(&reader_name, None)?;
            group.reader(&reader_name)?
        }
        Err(e) => return Err(e).context("joining the reader group"),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut last_event = Instant::now();
    let result = loop {
        let wait = Duration::from_millis(200);
        match reader.read_next_event(wait) {
            Ok(Some(EventRead::Event(event))) => {
                last_event = Instant::now();
                match emit(&mut out, &event.payload, how.length_prefixed) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break Ok(()),
                    Err(e) => break Err(anyhow::Error::from(e).context("writing to stdout")),
                }
            }
            Ok(Some(EventRead::Checkpoint(_))) => {}
            Ok(None) => {
                if let Err(e) = out.flush() {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        break Ok(());
                    }
                    break Err(anyhow::Error::from(e).context("writing to stdout"));
                }
                match group.is_finished() {
                    Ok(true) => break Ok(()),
                    Ok(false) if !how.follow && last_event.elapsed() >= how.idle => break Ok(()),
                    Ok(false) => {}
                    Err(e) => break Err(e.into()),
                }
            }
            Err(e) => break Err(anyhow::Error::from(e).context("reading the group")),
        }
    };
    // Hand the segments back at this reader's position, whatever happened.
    let closed = reader.close().context("leaving the reader group");
    let flushed = out.flush();
    result?;
    closed?;
    match flushed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing to stdout")?
        }
        _ => {}
    }
    Ok(Outcome::Healthy)
}

/// A name no other process picks: host, process id and start time.
fn default_reader_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut name = format!("{host}-{}-{ms}", std::process::id());
    name.truncate(120);
    name
}

/// `--reader` only makes sense with `--group`.
pub fn check(group: Option<&str>, reader: Option<&str>) -> anyhow::Result<()> {
    if group.is_none() && reader.is_some() {
        bail!("--reader names a reader of a group: pass --group GROUP too");
    }
    Ok(())
}

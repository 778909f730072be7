//! `spate read SCOPE/STREAM`: events to stdout, each key's events in the
//! order written. One thread per segment being read; a segment's successors
//! start once all their predecessors have been read to their end, so order
//! per key holds across scaling. Without `--follow` each segment is read to
//! the length it had when its reading began; with it, reading goes on at
//! the tail until the stream is sealed (or the reader is stopped). With
//! `--group` it reads as one reader of a reader group instead
//! (`group_read.rs`).

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::mpsc;

use anyhow::{Context, bail};
use clap::Args;
use spate_client::{Client, EventSplitter, ReadOutcome, StreamInfo, StreamName};
use spate_wire::StreamSegment;
use spate_wire::stream::StreamCut;

use super::{NodeArgs, stream_name};
use crate::Outcome;

#[derive(Args)]
pub struct ReadArgs {
    /// SCOPE/STREAM
    stream: String,
    /// Start at this stream cut instead of the stream's start.
    #[arg(long, conflicts_with = "from_start")]
    from: Option<String>,
    /// Start at the stream's start (the default).
    #[arg(long)]
    from_start: bool,
    /// Stop at this stream cut.
    #[arg(long, conflicts_with = "follow")]
    to: Option<String>,
    /// Keep reading new events at the tail.
    #[arg(long)]
    follow: bool,
    /// Write each event as `len: u32 big-endian` + bytes instead of a line.
    #[arg(long)]
    length_prefixed: bool,
    /// Read as one reader of this reader group (created if absent, from the
    /// stream's start or --from, up to --to): processes reading with the
    /// same group share the stream's segments, and the group remembers how
    /// far it got.
    #[arg(long, value_name = "GROUP")]
    group: Option<String>,
    /// With --group: this reader's name in the group [default: host, pid and
    /// time]. A name left online by a reader that died is taken over.
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
    /// With --group and without --follow: stop after this many seconds
    /// without an event.
    #[arg(long, default_value_t = 2.0)]
    idle_secs: f64,
}

enum Message {
    Event(Vec<u8>),
    /// The segment was read to its end (`sealed`) or to where this run stops.
    Done {
        segment: u64,
        sealed: bool,
    },
    Failed(anyhow::Error),
}

pub fn run_read(node: &NodeArgs, args: ReadArgs) -> anyhow::Result<Outcome> {
    let name = stream_name(&args.stream)?;
    let client = node.connect()?;
    let from = args
        .from
        .as_deref()
        .map(|c| parse_cut(c, &name))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|c| parse_cut(c, &name))
        .transpose()?;
    super::group_read::check(args.group.as_deref(), args.reader.as_deref())?;
    if let Some(group) = args.group.as_deref() {
        describe(&client, &name)?;
        let how = super::group_read::GroupRead {
            group,
            reader: args.reader.as_deref(),
            from,
            to,
            follow: args.follow,
            idle: std::time::Duration::from_secs_f64(args.idle_secs.max(0.0)),
            length_prefixed: args.length_prefixed,
        };
        return super::group_read::run(&client, &name, how);
    }
    let info = describe(&client, &name)?;
    let (tx, rx) = mpsc::sync_channel::<Message>(1024);
    let mut walk = Walk {
        client: &client,
        name: &name,
        follow: args.follow,
        to,
        started: BTreeSet::new(),
        finished: BTreeSet::new(),
        running: 0,
        tx,
    };
    for (segment, offset) in walk.starts(&info, from.as_ref())? {
        walk.start(segment, offset);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    while walk.running > 0 {
        let Ok(message) = rx.recv() else { break };
        match message {
            Message::Event(event) => {
                if let Err(e) = emit(&mut out, &event, args.length_prefixed) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(Outcome::Healthy);
                    }
                    return Err(e).context("writing to stdout");
                }
            }
            Message::Done { segment, sealed } => {
                walk.running -= 1;
                walk.finished.insert(segment);
                if sealed {
                    out.flush().context("writing to stdout")?;
                    let info = describe(&client, &name)?;
                    for (next, offset) in walk.ready_successors(&info) {
                        walk.start(next, offset);
                    }
                }
            }
            Message::Failed(error) => return Err(error),
        }
    }
    out.flush().context("writing to stdout")?;
    Ok(Outcome::Healthy)
}

pub(super) fn emit(out: &mut impl Write, event: &[u8], prefixed: bool) -> std::io::Result<()> {
    if prefixed {
        out.write_all(&(event.len() as u32).to_be_bytes())?;
        out.write_all(event)
    } else {
        out.write_all(event)?;
        out.write_all(b"\n")
    }
}

fn parse_cut(text: &str, name: &StreamName) -> anyhow::Result<StreamCut> {
    let cut: StreamCut = text
        .parse()
        .with_context(|| format!("{text:?} is not a stream cut (scope/stream@N:OFFSET,…)"))?;
    if cut.scope != name.scope || cut.stream != name.stream {
        bail!("the cut {text:?} is for another stream than {name}");
    }
    Ok(cut)
}

fn describe(client: &Client, name: &StreamName) -> anyhow::Result<StreamInfo> {
    match client.describe_stream(name).wait()? {
        spate_client::StreamOutcome::Done(info) => Ok(info),
        _ => bail!("no such stream: {name}"),
    }
}

struct Walk<'a> {
    client: &'a Client,
    name: &'a StreamName,
    follow: bool,
    to: Option<StreamCut>,
    started: BTreeSet<u64>,
    finished: BTreeSet<u64>,
    running: usize,
    tx: mpsc::SyncSender<Message>,
}

impl Walk<'_> {
    /// Where reading starts: the cut's segments at its offsets, or every
    /// segment with no predecessor left, at its start.
    fn starts(
        &mut self,
        info: &StreamInfo,
        from: Option<&StreamCut>,
    ) -> anyhow::Result<Vec<(u64, u64)>> {
        let segments = &info.description.segments;
        let Some(cut) = from else {
            let present: BTreeSet<u64> = segments.iter().map(|s| s.number).collect();
            return Ok(segments
                .iter()
                .filter(|s| s.predecessors.iter().all(|p| !present.contains(p)))
                .map(|s| (s.number, s.start_offset))
                .collect());
        };
        for &number in cut.positions.keys() {
            if info.segment(number).is_none() {
                bail!(
                    "the cut names segment {number}, which {} does not hold (never had, or truncated away)",
                    self.name
                );
            }
        }
        // Segments wholly before the cut count as read.
        for s in segments {
            if !cut.positions.contains_key(&s.number) && is_before(s, cut, info) {
                self.finished.insert(s.number);
                self.started.insert(s.number);
            }
        }
        Ok(cut.positions.iter().map(|(&n, &o)| (n, o)).collect())
    }

    /// Successors whose predecessors have all been read, not started yet.
    fn ready_successors(&mut self, info: &StreamInfo) -> Vec<(u64, u64)> {
        info.description
            .segments
            .iter()
            .filter(|s| !self.started.contains(&s.number))
            .filter(|s| !s.predecessors.is_empty())
            .filter(|s| {
                s.predecessors
                    .iter()
                    .all(|p| self.finished.contains(p) || info.segment(*p).is_none())
            })
            .filter(|s| {
                self.to
                    .as_ref()
                    .is_none_or(|to| to.positions.contains_key(&s.number) || is_before(s, to, info))
            })
            .map(|s| (s.number, s.start_offset))
            .collect()
    }

    fn start(&mut self, segment: u64, offset: u64) {
        self.started.insert(segment);
        self.running += 1;
        let stop_at = self
            .to
            .as_ref()
            .and_then(|to| to.positions.get(&segment).copied());
        let (client, tx, follow) = (self.client.clone(), self.tx.clone(), self.follow);
        let name = spate_wire::stream::segment_name(&self.name.scope, &self.name.stream, segment);
        std::thread::spawn(move || {
            let result = read_segment(&client, &name, offset, stop_at, follow, &tx);
            let message = match result {
                Ok(sealed) => Message::Done { segment, sealed },
                Err(error) => Message::Failed(error),
            };
            let _ = tx.send(message);
        });
    }
}

/// Whether segment `s` lies wholly before `cut`: a later cut segment covers
/// some of its keys.
fn is_before(s: &StreamSegment, cut: &StreamCut, info: &StreamInfo) -> bool {
    cut.positions
        .keys()
        .filter_map(|&n| info.segment(n))
        .any(|c| c.range.overlaps(&s.range) && c.created_epoch > s.created_epoch)
}

/// Reads one segment from `offset`; true if it reached the sealed end.
fn read_segment(
    client: &Client,
    name: &str,
    offset: u64,
    stop_at: Option<u64>,
    follow: bool,
    tx: &mpsc::SyncSender<Message>,
) -> anyhow::Result<bool> {
    let length = match client.info(name).wait()? {
        spate_client::InfoOutcome::Found(info) => info.length,
        spate_client::InfoOutcome::NoSuchSegment => bail!("segment {name} is gone"),
    };
    let end = match (stop_at, follow) {
        (Some(stop), _) => stop,
        (None, true) => u64::MAX,
        (None, false) => length,
    };
    let max_event = client.topology().limits.max_frame_bytes as usize;
    let mut splitter = EventSplitter::at(offset);
    let mut reader = client.segment_reader(name, offset)?;
    let mut at = offset;
    while at < end {
        match reader.read().wait()? {
            ReadOutcome::Data(chunk) => {
                at = chunk.offset + chunk.data.len() as u64;
                for event in splitter.push(&chunk.data, max_event)? {
                    if event.offset >= end {
                        return Ok(false);
                    }
                    if tx.send(Message::Event(event.payload)).is_err() {
                        return Ok(false);
                    }
                }
                if chunk.end_of_segment {
                    return Ok(stop_at.is_none());
                }
            }
            ReadOutcome::EndOfSegment { .. } => return Ok(stop_at.is_none()),
            ReadOutcome::Truncated { start_offset } => {
                bail!("segment {name} was truncated to {start_offset} while being read")
            }
            ReadOutcome::NoSuchSegment => bail!("segment {name} was deleted while being read"),
        }
    }
    // Reached the stop point (or the length it had) without its end.
    Ok(at >= length && stop_at.is_none() && is_sealed(client, name)?)
}

fn is_sealed(client: &Client, name: &str) -> anyhow::Result<bool> {
    Ok(matches!(
        client.info(name).wait()?,
        spate_client::InfoOutcome::Found(info) if info.sealed
    ))
}

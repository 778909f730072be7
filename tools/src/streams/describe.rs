//! `spate stream describe`: a table for people, JSON for scripts.

use std::fmt::Write;

use serde_json::{Value, json};
use spate_client::StreamInfo;
use spate_wire::StreamSegment;
use spate_wire::stream::{RetentionPolicy, ScalingPolicy};

pub fn describe_table(info: &StreamInfo) -> String {
    let d = &info.description;
    let mut out = String::new();
    let _ = writeln!(out, "stream     {}", info.name);
    let _ = writeln!(out, "state      {:?}, epoch {}", d.phase, d.epoch);
    let _ = writeln!(out, "scaling    {}", scaling(d.config.scaling));
    let _ = writeln!(out, "retention  {}", retention(d.config.retention));
    let _ = writeln!(out, "held       {} bytes", info.held_bytes());
    let _ = writeln!(out, "tail cut   {}", info.tail_cut());
    let _ = writeln!(
        out,
        "\n{:>8}  {:<27}  {:>6}  {:>6}  {:>12}  {:>12}  predecessors",
        "segment", "key range [start, end]", "from", "sealed", "start", "length"
    );
    for s in &d.segments {
        let sealed = s.sealed_epoch.map_or("-".into(), |e| e.to_string());
        let _ = writeln!(
            out,
            "{:>8}  {:<27}  {:>6}  {:>6}  {:>12}  {:>12}  {:?}",
            s.number,
            range_text(s),
            s.created_epoch,
            sealed,
            s.start_offset,
            s.length,
            s.predecessors
        );
    }
    out
}

fn range_text(s: &StreamSegment) -> String {
    let (low, high) = s.range.fractions();
    format!("{low:.6} – {high:.6}")
}

fn scaling(policy: ScalingPolicy) -> String {
    match policy {
        ScalingPolicy::Fixed { segments } => format!("fixed, {segments} segments"),
        ScalingPolicy::ByEventRate {
            target_events_per_s,
            scale_factor,
            min_segments,
        } => format!(
            "by event rate: {target_events_per_s} events/s per segment, split in {scale_factor}, at least {min_segments}"
        ),
        ScalingPolicy::ByByteRate {
            target_kib_per_s,
            scale_factor,
            min_segments,
        } => format!(
            "by byte rate: {target_kib_per_s} KiB/s per segment, split in {scale_factor}, at least {min_segments}"
        ),
    }
}

fn retention(policy: RetentionPolicy) -> String {
    match policy {
        RetentionPolicy::None => "none (until truncated)".into(),
        RetentionPolicy::ByTime { min_ms, max_ms } => {
            format!("by time: at least {min_ms} ms{}", max_text(max_ms, "ms"))
        }
        RetentionPolicy::BySize {
            min_bytes,
            max_bytes,
        } => format!(
            "by size: at least {min_bytes} bytes{}",
            max_text(max_bytes, "bytes")
        ),
    }
}

fn max_text(max: Option<u64>, unit: &str) -> String {
    max.map_or_else(String::new, |m| format!(", at most {m} {unit}"))
}

pub fn describe_json(info: &StreamInfo) -> Value {
    let d = &info.description;
    json!({
        "stream": info.name.to_string(),
        "phase": format!("{:?}", d.phase),
        "epoch": d.epoch,
        "created_unix_ms": d.created_unix_ms,
        "scaling": scaling(d.config.scaling),
        "retention": retention(d.config.retention),
        "held_bytes": info.held_bytes(),
        "tail_cut": info.tail_cut().to_string(),
        "segments": d.segments.iter().map(|s| json!({
            "number": s.number,
            "range": [s.range.start, s.range.end],
            "created_epoch": s.created_epoch,
            "sealed_epoch": s.sealed_epoch,
            "predecessors": s.predecessors,
            "start_offset": s.start_offset,
            "length": s.length,
        })).collect::<Vec<_>>(),
        "epochs": d.epochs.iter().map(|e| json!({"at_ms": e.at_ms, "segments": e.segments})).collect::<Vec<_>>(),
        "truncation": d.truncation.iter().map(|p| [p.segment, p.offset]).collect::<Vec<_>>(),
    })
}

//! Tables and JSON for `spate tier status|scrub|repair`.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use spate_tier::{Damage, Place, RepairReport, ScrubReport, TierStatus};

use crate::units::{bytes, table};

/// A damage record as JSON (and one table line).
#[derive(Serialize)]
pub struct DamageOut {
    pub dir: usize,
    pub segment: String,
    pub place: String,
    pub kind: String,
}

impl From<&Damage> for DamageOut {
    fn from(d: &Damage) -> Self {
        DamageOut {
            dir: d.dir,
            segment: d.segment.clone(),
            place: match d.place {
                Place::Manifest => "manifest".into(),
                Place::Shard { stripe, shard } => format!("stripe {stripe} shard {shard}"),
                Place::Directory => "directory".into(),
            },
            kind: format!("{:?}", d.kind),
        }
    }
}

#[derive(Serialize)]
struct DirOut<'a> {
    dir: usize,
    path: &'a PathBuf,
    stripes: u64,
    bytes: u64,
    damage_found: u64,
    reachable: bool,
}

#[derive(Serialize)]
struct StatusOut<'a> {
    healthy: bool,
    segments: u64,
    stripes: u64,
    data_bytes: u64,
    dirs: Vec<DirOut<'a>>,
    problems: Vec<DamageOut>,
}

pub fn status(
    out: &mut impl Write,
    s: &TierStatus,
    paths: &[PathBuf],
    healthy: bool,
    json: bool,
) -> anyhow::Result<()> {
    let dirs: Vec<DirOut<'_>> = s
        .dirs
        .iter()
        .zip(paths)
        .map(|(d, path)| DirOut {
            dir: d.dir,
            path,
            stripes: d.stripes,
            bytes: d.bytes,
            damage_found: d.damage_found,
            reachable: d.reachable,
        })
        .collect();
    if json {
        let report = StatusOut {
            healthy,
            segments: s.segments,
            stripes: s.stripes,
            data_bytes: s.data_bytes,
            dirs,
            problems: s.problems.iter().map(DamageOut::from).collect(),
        };
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "tier: {} segments, {} stripes, {} of data",
        s.segments,
        s.stripes,
        bytes(s.data_bytes as f64)
    )?;
    let mut rows = vec![
        ["dir", "path", "shards", "bytes", "reachable"]
            .map(String::from)
            .to_vec(),
    ];
    rows.extend(dirs.iter().map(|d| {
        vec![
            d.dir.to_string(),
            d.path.display().to_string(),
            d.stripes.to_string(),
            bytes(d.bytes as f64),
            if d.reachable { "yes" } else { "NO" }.to_string(),
        ]
    }));
    table(out, &rows)?;
    for p in &s.problems {
        writeln!(out, "problem: {p}")?;
    }
    Ok(())
}

#[derive(Serialize)]
struct ScrubOut {
    healthy: bool,
    segments: u64,
    stripes: u64,
    bytes: u64,
    damage_count: u64,
    damage_per_dir: Vec<u64>,
    damage: Vec<DamageOut>,
    unrecoverable: Vec<StripeOut>,
}

#[derive(Serialize)]
struct StripeOut {
    segment: String,
    stripe: u64,
}

fn stripes(list: &[(String, u64)]) -> Vec<StripeOut> {
    list.iter()
        .map(|(segment, stripe)| StripeOut {
            segment: segment.clone(),
            stripe: *stripe,
        })
        .collect()
}

pub fn scrub(
    out: &mut impl Write,
    r: &ScrubReport,
    paths: &[PathBuf],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let report = ScrubOut {
            healthy: r.damage_count == 0,
            segments: r.segments,
            stripes: r.stripes,
            bytes: r.bytes,
            damage_count: r.damage_count,
            damage_per_dir: r.damage_per_dir.clone(),
            damage: r.damage.iter().map(DamageOut::from).collect(),
            unrecoverable: stripes(&r.unrecoverable),
        };
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "scrubbed {} segments, {} stripes, {} read: {}",
        r.segments,
        r.stripes,
        bytes(r.bytes as f64),
        if r.damage_count == 0 {
            "no damage".to_string()
        } else {
            format!("{} damaged files", r.damage_count)
        }
    )?;
    if r.damage_count > 0 {
        let mut rows = vec![["dir", "path", "damage"].map(String::from).to_vec()];
        rows.extend(
            r.damage_per_dir
                .iter()
                .zip(paths)
                .enumerate()
                .map(|(dir, (count, path))| {
                    vec![
                        dir.to_string(),
                        path.display().to_string(),
                        count.to_string(),
                    ]
                }),
        );
        table(out, &rows)?;
        for d in &r.damage {
            writeln!(out, "damage: {d}")?;
        }
        if r.damage_count > r.damage.len() as u64 {
            writeln!(
                out,
                "... and {} more",
                r.damage_count - r.damage.len() as u64
            )?;
        }
    }
    for (segment, stripe) in &r.unrecoverable {
        writeln!(
            out,
            "UNRECOVERABLE: segment {segment:?} stripe {stripe}: more shards damaged than its parity covers"
        )?;
    }
    if r.damage_count > 0 && r.unrecoverable.is_empty() {
        writeln!(
            out,
            "all of it is repairable: run `spate tier repair` with the same directories"
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct RepairOut<'a> {
    dir: usize,
    path: &'a PathBuf,
    segments: u64,
    shards_checked: u64,
    shards_rebuilt: u64,
    manifests_written: u64,
    bytes_written: u64,
    unrecoverable: Vec<StripeOut>,
    lost_manifests: &'a [String],
    damage_elsewhere: Vec<DamageOut>,
}

#[derive(Serialize)]
struct RepairsOut<'a> {
    healthy: bool,
    dirs: Vec<RepairOut<'a>>,
}

/// Whether a repair left anything it could not rebuild.
pub fn unrepaired(r: &RepairReport) -> bool {
    !r.unrecoverable.is_empty() || !r.lost_manifests.is_empty()
}

pub fn repair(
    out: &mut impl Write,
    reports: &[(usize, RepairReport)],
    paths: &[PathBuf],
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let report = RepairsOut {
            healthy: !reports.iter().any(|(_, r)| unrepaired(r)),
            dirs: reports
                .iter()
                .map(|(dir, r)| RepairOut {
                    dir: *dir,
                    path: &paths[*dir],
                    segments: r.segments,
                    shards_checked: r.shards_checked,
                    shards_rebuilt: r.shards_rebuilt,
                    manifests_written: r.manifests_written,
                    bytes_written: r.bytes_written,
                    unrecoverable: stripes(&r.unrecoverable),
                    lost_manifests: &r.lost_manifests,
                    damage_elsewhere: r.damage_elsewhere.iter().map(DamageOut::from).collect(),
                })
                .collect(),
        };
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
        return Ok(());
    }
    let mut rows = vec![
        [
            "dir",
            "path",
            "shards checked",
            "rebuilt",
            "manifests written",
            "written",
            "unrecoverable",
        ]
        .map(String::from)
        .to_vec(),
    ];
    rows.extend(reports.iter().map(|(dir, r)| {
        vec![
            dir.to_string(),
            paths[*dir].display().to_string(),
            r.shards_checked.to_string(),
            r.shards_rebuilt.to_string(),
            r.manifests_written.to_string(),
            bytes(r.bytes_written as f64),
            r.unrecoverable.len().to_string(),
        ]
    }));
    table(out, &rows)?;
    for (dir, r) in reports {
        for (segment, stripe) in &r.unrecoverable {
            writeln!(
                out,
                "UNRECOVERABLE: directory {dir}: segment {segment:?} stripe {stripe}: too few intact shards elsewhere"
            )?;
        }
        for key in &r.lost_manifests {
            writeln!(
                out,
                "LOST: segment file key {key}: no valid manifest copy anywhere"
            )?;
        }
    }
    Ok(())
}

//! Injected disk faults for the journal, for tests against the real node.
//!
//! A fault plan comes from the environment variable `SPATE_JOURNAL_FAULTS`,
//! read once when a core opens its journal. It is honoured only in builds
//! with debug assertions (the dev and test profiles): a release binary
//! ignores it and says so in its log, so a stray variable can never make a
//! production node fail its writes. Without the variable nothing here runs.
//!
//! The plan is a comma-separated list of rules `OP:WHEN`:
//!
//! | OP | what fails |
//! |---|---|
//! | `write` | a durable write fails with EIO before any byte reaches the file |
//! | `sync` | a durable write reaches the file, then reports EIO, as when the flush (O_DSYNC or fdatasync) fails: the bytes may be on disk but were never acknowledged |
//! | `prepare` | a file preparation that must allocate space (a new or short file) fails with ENOSPC, as on a full disk; preparing a file of full size only syncs it and never fails this way |
//!
//! | WHEN | which operations |
//! |---|---|
//! | `after=N` | the Nth operation of that kind (counted from 1 since the core opened its journal) and every one after it |
//! | `file=PATH` | every operation issued while PATH exists |
//!
//! `write` and `sync` count the same operations (durable writes); `prepare`
//! counts allocating preparations. Example:
//! `SPATE_JOURNAL_FAULTS=write:file=/tmp/x/fail` makes every journal write
//! fail once `/tmp/x/fail` is created. `docs/testing.md` describes the tests
//! that use it.

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};

/// The environment variable holding the plan.
pub const VARIABLE: &str = "SPATE_JOURNAL_FAULTS";

/// An operation a rule can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOp {
    Write,
    Sync,
    Prepare,
}

impl FaultOp {
    fn name(self) -> &'static str {
        match self {
            FaultOp::Write => "write",
            FaultOp::Sync => "sync",
            FaultOp::Prepare => "prepare",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Trigger {
    /// The Nth operation (from 1) and every later one.
    After(u64),
    /// Every operation while this file exists.
    WhileExists(PathBuf),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    op: FaultOp,
    trigger: Trigger,
}

/// What happens to one operation.
#[derive(Debug)]
pub enum Verdict {
    /// Run it as usual.
    Pass,
    /// Do not run it; it fails with this error.
    FailBefore(io::Error),
    /// Run it, then report this error (unless it failed on its own).
    FailAfter(io::Error),
}

impl Verdict {
    /// The outcome of an operation that `run` performs, under this verdict
    /// (`run` is not called when the operation fails before it runs).
    pub fn apply(self, run: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        match self {
            Verdict::Pass => run(),
            Verdict::FailBefore(error) => Err(error),
            Verdict::FailAfter(error) => run().and(Err(error)),
        }
    }

    /// [`apply`](Self::apply) for an operation that runs as a future.
    pub async fn apply_async<F>(self, run: impl FnOnce() -> F) -> io::Result<()>
    where
        F: std::future::Future<Output = io::Result<()>>,
    {
        match self {
            Verdict::Pass => run().await,
            Verdict::FailBefore(error) => Err(error),
            Verdict::FailAfter(error) => run().await.and(Err(error)),
        }
    }
}

/// A plan that cannot be followed: the node refuses to start rather than
/// run a test without the fault it asked for.
#[derive(Debug, thiserror::Error)]
#[error("{VARIABLE}={text:?}: {reason}")]
pub struct FaultPlanError {
    text: String,
    reason: String,
}

/// The rules and the operations counted so far (one plan per journal).
#[derive(Debug, Default)]
pub struct FaultPlan {
    rules: Vec<Rule>,
    writes: Cell<u64>,
    prepares: Cell<u64>,
    /// Whether an injected fault was logged yet: the first one of each
    /// plan is a warning, later ones (a preparation retried on a full disk
    /// can fail thousands of times) are debug lines.
    announced: Cell<bool>,
}

impl FaultPlan {
    /// The plan in the environment: `None` without the variable, and in
    /// release builds (with a warning if it is set).
    pub fn from_env() -> Result<Option<Self>, FaultPlanError> {
        let Some(text) = std::env::var_os(VARIABLE) else {
            return Ok(None);
        };
        if !cfg!(debug_assertions) {
            tracing::warn!("{VARIABLE} is set but ignored: this build has no fault injection");
            return Ok(None);
        }
        let text = text.to_str().ok_or_else(|| FaultPlanError {
            text: text.to_string_lossy().into_owned(),
            reason: "not UTF-8".into(),
        })?;
        let plan = Self::parse(text)?;
        tracing::warn!(plan = text, "journal fault injection is active");
        Ok(Some(plan))
    }

    pub fn parse(text: &str) -> Result<Self, FaultPlanError> {
        let error = |reason: String| FaultPlanError {
            text: text.to_string(),
            reason,
        };
        let mut rules = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (op, when) = item
                .split_once(':')
                .ok_or_else(|| error(format!("{item:?} is not OP:WHEN")))?;
            let op = match op {
                "write" => FaultOp::Write,
                "sync" => FaultOp::Sync,
                "prepare" => FaultOp::Prepare,
                other => return Err(error(format!("unknown operation {other:?}"))),
            };
            let trigger = if let Some(n) = when.strip_prefix("after=") {
                match n.parse::<u64>() {
                    Ok(n) if n > 0 => Trigger::After(n),
                    _ => return Err(error(format!("{n:?} is not a count from 1"))),
                }
            } else if let Some(path) = when.strip_prefix("file=").filter(|p| !p.is_empty()) {
                Trigger::WhileExists(PathBuf::from(path))
            } else {
                return Err(error(format!("{when:?} is neither after=N nor file=PATH")));
            };
            rules.push(Rule { op, trigger });
        }
        if rules.is_empty() {
            return Err(error("no rule".into()));
        }
        Ok(Self {
            rules,
            ..Self::default()
        })
    }

    /// The verdict on the next durable write.
    pub fn on_write(&self) -> Verdict {
        let n = bump(&self.writes);
        if self.fires(FaultOp::Write, n) {
            self.announce(FaultOp::Write, n);
            Verdict::FailBefore(io::Error::from_raw_os_error(libc::EIO))
        } else if self.fires(FaultOp::Sync, n) {
            self.announce(FaultOp::Sync, n);
            Verdict::FailAfter(io::Error::from_raw_os_error(libc::EIO))
        } else {
            Verdict::Pass
        }
    }

    /// The verdict on the next file preparation.
    pub fn on_prepare(&self) -> Verdict {
        let n = bump(&self.prepares);
        if self.fires(FaultOp::Prepare, n) {
            self.announce(FaultOp::Prepare, n);
            Verdict::FailBefore(io::Error::from_raw_os_error(libc::ENOSPC))
        } else {
            Verdict::Pass
        }
    }

    fn fires(&self, op: FaultOp, n: u64) -> bool {
        self.rules
            .iter()
            .filter(|r| r.op == op)
            .any(|r| match &r.trigger {
                Trigger::After(first) => n >= *first,
                Trigger::WhileExists(path) => exists(path),
            })
    }

    fn announce(&self, op: FaultOp, n: u64) {
        if self.announced.replace(true) {
            tracing::debug!(op = op.name(), n, "injected journal fault");
        } else {
            tracing::warn!(op = op.name(), n, "injected journal fault");
        }
    }
}

fn bump(counter: &Cell<u64>) -> u64 {
    counter.set(counter.get() + 1);
    counter.get()
}

/// A trigger file that cannot be checked counts as absent: the plan fails
/// operations only when it can see that it was asked to.
fn exists(path: &Path) -> bool {
    path.try_exists().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(verdict: Verdict) -> &'static str {
        match verdict {
            Verdict::Pass => "pass",
            Verdict::FailBefore(_) => "before",
            Verdict::FailAfter(_) => "after",
        }
    }

    #[test]
    fn after_n_fails_the_nth_write_and_every_later_one() {
        let plan = FaultPlan::parse("write:after=3").expect("parses");
        let verdicts: Vec<_> = (0..5).map(|_| kind(plan.on_write())).collect();
        assert_eq!(verdicts, ["pass", "pass", "before", "before", "before"]);
        assert_eq!(kind(plan.on_prepare()), "pass");
    }

    #[test]
    fn a_sync_fault_lets_the_write_run_and_fails_it_after() {
        let plan = FaultPlan::parse("sync:after=1").expect("parses");
        let Verdict::FailAfter(e) = plan.on_write() else {
            panic!("a sync fault fails after the write")
        };
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
    }

    #[test]
    fn a_file_trigger_fails_operations_while_the_file_exists() {
        let path = std::env::temp_dir().join(format!("spate-fault-trigger-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let plan = FaultPlan::parse(&format!("prepare:file={}", path.display())).expect("parses");
        assert_eq!(kind(plan.on_prepare()), "pass");
        std::fs::write(&path, b"").expect("trigger");
        let Verdict::FailBefore(e) = plan.on_prepare() else {
            panic!("the trigger file fails preparations")
        };
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        std::fs::remove_file(&path).expect("remove trigger");
        assert_eq!(kind(plan.on_prepare()), "pass", "space came back");
    }

    #[test]
    fn bad_plans_are_refused_with_the_reason() {
        for (text, reason) in [
            ("", "no rule"),
            ("write", "not OP:WHEN"),
            ("erase:after=1", "unknown operation"),
            ("write:after=0", "count from 1"),
            ("write:after=x", "count from 1"),
            ("write:file=", "neither"),
            ("write:soon", "neither"),
        ] {
            let error = FaultPlan::parse(text).expect_err(text).to_string();
            assert!(error.contains(reason), "{text:?}: {error}");
        }
    }
}

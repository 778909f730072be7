//! The loop itself: epochs of iterations; each iteration lets the system
//! run for a random moment, kills the node (or a writer, or a reader) with
//! SIGKILL, restarts it, waits until every writer is acknowledged again,
//! and verifies the whole epoch against the oracle.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use spate_client::{Client, CreateOutcome};

use crate::cli::RunArgs;
use crate::connect;
use crate::error::HarnessError;
use crate::fleet::{Role, Worker, WorkerSpec};
use crate::node::{self, NodeProcess, NodeSpec};
use crate::ports;
use crate::progress;
use crate::verify::{self, Verdict};
use crate::writer::PAUSE_FILE;

/// The counts of the last line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Totals {
    /// Iterations completed (killed, restarted and verified).
    pub iterations: u32,
    /// Events acknowledged, over all epochs.
    pub acknowledged: usize,
    /// Acknowledged events not found.
    pub lost: usize,
}

/// A run of the loop.
#[derive(Debug)]
pub struct CrashLoop {
    args: RunArgs,
    rng: SmallRng,
    exe: PathBuf,
    node_bin: PathBuf,
    /// The run's directory; epochs live in subdirectories.
    pub dir: PathBuf,
    listen: std::net::SocketAddr,
    /// Finished epochs' counts, plus the current epoch's latest verdict.
    pub totals: Totals,
    /// Finished epochs' counts only.
    done: Totals,
}

/// What was killed in an iteration.
#[derive(Debug, Clone, Copy)]
enum Victim {
    Node,
    Worker(Role, u32),
}

/// One fresh node on an empty data directory, with its segments and
/// workers.
struct Epoch {
    number: u32,
    dir: PathBuf,
    spec: NodeSpec,
    node: Option<NodeProcess>,
    client: Client,
    workers: WorkerSpec,
    writers: Vec<Worker>,
    readers: Vec<Worker>,
}

impl CrashLoop {
    /// Checks the settings and picks the run directory and ports.
    pub fn new(args: RunArgs) -> Result<CrashLoop, HarnessError> {
        let node_bin = match &args.node_bin {
            Some(path) => path.clone(),
            None => node::default_bin()?,
        };
        if !node_bin.is_file() {
            return Err(HarnessError::NodeBinary(node_bin));
        }
        let exe = std::env::current_exe().map_err(HarnessError::io("finding this executable"))?;
        let seed = args.seed.unwrap_or_else(clock_seed);
        println!("seed {seed} (repeat the same choices with --seed {seed})");
        let dir = args.dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("spate-crash-loop-{}", std::process::id()))
        });
        std::fs::create_dir_all(&dir)
            .map_err(HarnessError::io(format!("creating {}", dir.display())))?;
        let cores = u16::try_from(args.cores).unwrap_or(u16::MAX);
        let listen = ports::free_ports(cores).ok_or(HarnessError::NoPorts)?;
        Ok(CrashLoop {
            rng: SmallRng::seed_from_u64(seed),
            args,
            exe,
            node_bin,
            dir,
            listen,
            totals: Totals::default(),
            done: Totals::default(),
        })
    }

    /// Runs every iteration; returns the violations found (empty: passed).
    /// Stops at the first iteration that finds any.
    pub fn run(&mut self) -> Result<Vec<String>, HarnessError> {
        let mut number = 0;
        while self.totals.iterations < self.args.iterations {
            let left = self.args.iterations - self.totals.iterations;
            let count = left.min(self.args.epoch.max(1));
            let violations = self.epoch(number, count)?;
            if !violations.is_empty() {
                return Ok(violations);
            }
            number += 1;
        }
        Ok(Vec::new())
    }

    fn epoch(&mut self, number: u32, iterations: u32) -> Result<Vec<String>, HarnessError> {
        let mut epoch = self.start_epoch(number)?;
        for _ in 0..iterations {
            let violations = self.iteration(&mut epoch)?;
            if !violations.is_empty() {
                return Ok(violations);
            }
        }
        // Quiesce, so the last verdict covers every log line for good.
        for worker in epoch.writers.drain(..).chain(epoch.readers.drain(..)) {
            worker.kill()?;
        }
        let verdict = self.verify(&epoch)?;
        println!(
            "epoch {number}: final check with writers stopped: {} acknowledged, {} events, {} \
             lost",
            verdict.acked, verdict.events, verdict.lost
        );
        if !verdict.is_clean() {
            return Ok(verdict.violations);
        }
        self.done = self.totals;
        if let Some(node) = epoch.node.take() {
            node.kill()?;
        }
        if !self.args.keep {
            std::fs::remove_dir_all(&epoch.dir).map_err(HarnessError::io(format!(
                "removing {}",
                epoch.dir.display()
            )))?;
        }
        Ok(Vec::new())
    }

    fn start_epoch(&mut self, number: u32) -> Result<Epoch, HarnessError> {
        let dir = self.dir.join(format!("epoch-{number}"));
        let data_dir = dir.join("data");
        // A previous run with --dir may have left one behind.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&data_dir)
            .map_err(HarnessError::io(format!("creating {}", data_dir.display())))?;
        let spec = NodeSpec {
            bin: self.node_bin.clone(),
            data_dir,
            listen: self.listen,
            cores: self.args.cores,
            log: dir.join("node.out"),
            // The flusher moves even the smallest runs at once, so kills land
            // in the middle of flushes, switches and collections too.
            args: [
                "--cache-mib",
                "64",
                "--journal-file-mib",
                "32",
                "--flush-min-kib",
                "0",
            ]
            .map(String::from)
            .to_vec(),
            open_files: None,
        };
        let node = NodeProcess::start(&spec)?;
        let patience = Some(self.stall());
        let client = connect::connect(self.listen, patience)
            .map_err(HarnessError::client("connecting to the new node"))?;
        let segments: Vec<String> = (0..self.args.segments)
            .map(|s| format!("chaos/e{number}/s{s}"))
            .collect();
        for segment in &segments {
            let created = client
                .create_segment(segment)
                .wait()
                .map_err(HarnessError::client(format!("creating {segment}")))?;
            if created != CreateOutcome::Created {
                return Err(HarnessError::Client {
                    context: format!("creating {segment} on an empty node"),
                    source: spate_client::ClientError::InvalidRequest {
                        reason: format!("{created:?}"),
                        status: None,
                    },
                });
            }
        }
        let workers = WorkerSpec {
            exe: self.exe.clone(),
            dir: dir.clone(),
            node: self.listen,
            segments,
            pace_ms: self.args.pace_ms,
        };
        let mut epoch = Epoch {
            number,
            dir,
            spec,
            node: Some(node),
            client,
            workers,
            writers: Vec::new(),
            readers: Vec::new(),
        };
        for index in 0..self.args.writers {
            let seed = self.rng.random();
            epoch
                .writers
                .push(Worker::start(&epoch.workers, Role::Writer, index, seed)?);
        }
        for index in 0..self.args.readers {
            let seed = self.rng.random();
            epoch
                .readers
                .push(Worker::start(&epoch.workers, Role::Reader, index, seed)?);
        }
        println!(
            "epoch {number}: node pid {} on {}, {} segments, {} writers, {} readers, in {}",
            epoch.node.as_ref().map_or(0, NodeProcess::pid),
            self.listen,
            self.args.segments,
            self.args.writers,
            self.args.readers,
            epoch.dir.display()
        );
        Ok(epoch)
    }

    fn iteration(&mut self, epoch: &mut Epoch) -> Result<Vec<String>, HarnessError> {
        let run_ms = self.rng.random_range(20..=self.args.max_run_ms.max(20));
        std::thread::sleep(Duration::from_millis(run_ms));
        let crashed = exits(epoch);
        if !crashed.is_empty() {
            return self.explain(epoch, crashed);
        }
        let victim = self.pick_victim();
        let restart_started = Instant::now();
        if let Some(failed) = self.kill_and_restart(epoch, victim)? {
            return Ok(vec![failed]);
        }
        let restart = restart_started.elapsed();
        if let Some(stall) = self.wait_for_progress(epoch)? {
            return self.explain(epoch, vec![stall]);
        }
        let verdict = self.verify(epoch)?;
        self.totals.iterations += 1;
        let what = match victim {
            Victim::Node => "the node".to_owned(),
            Victim::Worker(role, index) => format!("{role} {index}"),
        };
        println!(
            "[{:>4}/{}] epoch {}: killed {what} after {run_ms} ms, back in {} ms; acknowledged \
             {}, {} events, {:.1} MiB checked: {}",
            self.totals.iterations,
            self.args.iterations,
            epoch.number,
            restart.as_millis(),
            self.totals.acknowledged,
            verdict.events,
            verdict.bytes as f64 / f64::from(1 << 20),
            if verdict.is_clean() { "ok" } else { "FAILED" }
        );
        Ok(verdict.violations)
    }

    fn pick_victim(&mut self) -> Victim {
        let draw = self.rng.random_range(0..100);
        let (writers, readers) = (self.args.writers, self.args.readers);
        if draw < 25 && writers > 0 {
            Victim::Worker(Role::Writer, self.rng.random_range(0..writers))
        } else if draw < 40 && readers > 0 {
            Victim::Worker(Role::Reader, self.rng.random_range(0..readers))
        } else {
            Victim::Node
        }
    }

    /// `Some(reason)` if the node did not come back: after a kill -9 that
    /// is the node failing to recover, a finding, not a harness problem.
    fn kill_and_restart(
        &mut self,
        epoch: &mut Epoch,
        victim: Victim,
    ) -> Result<Option<String>, HarnessError> {
        match victim {
            Victim::Node => {
                if let Some(node) = epoch.node.take() {
                    node.kill()?;
                }
                match NodeProcess::start(&epoch.spec) {
                    Ok(node) => epoch.node = Some(node),
                    Err(error @ HarnessError::NodeStart { .. }) => {
                        return Ok(Some(format!("RECOVERY: after kill -9, {error}")));
                    }
                    Err(error) => return Err(error),
                }
            }
            Victim::Worker(role, index) => {
                let seed = self.rng.random();
                let workers = match role {
                    Role::Writer => &mut epoch.writers,
                    Role::Reader => &mut epoch.readers,
                };
                let slot = index as usize;
                // Killed before its successor starts: one process per
                // writer id at a time, as the client requires.
                workers.remove(slot).kill()?;
                workers.insert(slot, Worker::start(&epoch.workers, role, index, seed)?);
            }
        }
        Ok(None)
    }

    /// Waits until every writer has logged a new ACKED line since the
    /// restart. `Some(reason)` if one did not within the stall limit.
    fn wait_for_progress(&self, epoch: &mut Epoch) -> Result<Option<String>, HarnessError> {
        let logs: Vec<PathBuf> = (0..self.args.writers)
            .map(|w| epoch.dir.join(format!("writer-{w}.log")))
            .collect();
        let marks = logs
            .iter()
            .map(|path| progress::mark(path))
            .collect::<Result<Vec<_>, _>>()?;
        let started = Instant::now();
        let mut waiting: Vec<usize> = (0..logs.len()).collect();
        while !waiting.is_empty() {
            let crashed = exits(epoch);
            if !crashed.is_empty() {
                return Ok(Some(crashed.join("\n")));
            }
            let mut still = Vec::new();
            for w in waiting {
                if progress::acks_since(&logs[w], marks[w])? == 0 {
                    still.push(w);
                }
            }
            waiting = still;
            if !waiting.is_empty() && started.elapsed() > self.stall() {
                return Ok(Some(format!(
                    "STALLED: writers {waiting:?} had no event acknowledged in {:?} after the \
                     restart",
                    self.stall()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(None)
    }

    fn verify(&mut self, epoch: &Epoch) -> Result<Verdict, HarnessError> {
        let pause = epoch.dir.join(PAUSE_FILE);
        std::fs::write(&pause, b"")
            .map_err(HarnessError::io(format!("creating {}", pause.display())))?;
        let verdict = verify::verify(
            &epoch.dir,
            &epoch.client,
            &epoch.workers.segments,
            self.stall(),
        );
        std::fs::remove_file(&pause)
            .map_err(HarnessError::io(format!("removing {}", pause.display())))?;
        let verdict = verdict?;
        if verdict.complete {
            self.totals.acknowledged = self.done.acknowledged + verdict.acked;
            self.totals.lost = self.done.lost + verdict.lost;
        }
        Ok(verdict)
    }

    /// A process died on its own: whatever the logs say (a worker writes
    /// its violation there before it exits) plus the exits themselves.
    fn explain(
        &mut self,
        epoch: &Epoch,
        mut reasons: Vec<String>,
    ) -> Result<Vec<String>, HarnessError> {
        if let Ok(verdict) = self.verify(epoch) {
            reasons.extend(verdict.violations);
        }
        Ok(reasons)
    }

    fn stall(&self) -> Duration {
        Duration::from_secs(self.args.stall_secs.max(1))
    }

    /// Removes the run directory (after a passing run without --keep, when
    /// the loop chose it).
    pub fn clean_up(&self) {
        if !self.args.keep && self.args.dir.is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Processes that exited by themselves, described.
fn exits(epoch: &mut Epoch) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(node) = epoch.node.as_mut()
        && let Some(status) = node.exited()
    {
        found.push(format!(
            "CRASHED: the node exited by itself ({status}); see {}",
            epoch.spec.log.display()
        ));
    }
    for worker in epoch.writers.iter_mut().chain(epoch.readers.iter_mut()) {
        if let Some(status) = worker.exited() {
            found.push(format!(
                "EXITED: {} {} ({status}); its stderr ({}):\n{}",
                worker.role,
                worker.index,
                worker.stderr_path().display(),
                worker.stderr_tail()
            ));
        }
    }
    found
}

fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}

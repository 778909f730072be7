//! The live progress line on stderr while a workload runs: phase, time,
//! events acknowledged (transactions committed, with `txn_events`), the
//! rate of the last second, the p99 of the last full second and events in
//! flight.
//!
//! Drawn in place (indicatif) when stderr is a terminal; with `--progress`
//! and stderr not a terminal (a log file, CI), one plain line per second.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::harness::{Clock, Live};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    Off,
    /// Redrawn in place, about ten times a second.
    Bar,
    /// One line per second.
    Lines,
}

impl ProgressMode {
    /// A bar on a terminal; plain lines when asked for elsewhere.
    pub fn choose(asked: bool) -> Self {
        if std::io::stderr().is_terminal() {
            Self::Bar
        } else if asked {
            Self::Lines
        } else {
            Self::Off
        }
    }
}

/// The thread drawing the line; `finish` stops and clears it.
pub struct Display {
    done: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Display {
    pub fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

pub fn start(mode: ProgressMode, label: &str, clock: Clock, live: Arc<Live>) -> Option<Display> {
    if mode == ProgressMode::Off {
        return None;
    }
    let done = Arc::new(AtomicBool::new(false));
    let label = label.to_string();
    let stop = Arc::clone(&done);
    let thread = std::thread::Builder::new()
        .name("bench-progress".into())
        .spawn(move || draw(mode, &label, clock, &live, &stop))
        .ok()?;
    Some(Display { done, thread })
}

fn draw(mode: ProgressMode, label: &str, clock: Clock, live: &Live, done: &AtomicBool) {
    let total = (clock.end - clock.start).as_millis() as u64;
    let bar = match mode {
        ProgressMode::Bar => {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{prefix:.bold} {bar:20.cyan/blue} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            Some(bar)
        }
        _ => None,
    };
    let tick = match mode {
        ProgressMode::Bar => Duration::from_millis(100),
        _ => Duration::from_secs(1),
    };
    let mut rate = RateMeter::new();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(tick);
        let now = Instant::now();
        let line = status(clock, live, now, rate.update(now, live));
        match &bar {
            Some(bar) => {
                bar.set_position(((now - clock.start).as_millis() as u64).min(total));
                bar.set_message(line);
            }
            None => eprintln!("{label}: {line}"),
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

fn status(clock: Clock, live: &Live, now: Instant, per_second: f64) -> String {
    let phase = if live.draining.load(Ordering::Relaxed) {
        "draining"
    } else if now < clock.measure_from {
        "warm-up"
    } else {
        "measuring"
    };
    let elapsed = now.saturating_duration_since(clock.start).as_secs_f64();
    let total = (clock.end - clock.start).as_secs_f64();
    let sent = live.sent.load(Ordering::Relaxed);
    let acked = live.acked.load(Ordering::Relaxed);
    let p99 = live.last_p99_ns.load(Ordering::Relaxed);
    let p99 = if p99 == 0 {
        "-".to_string()
    } else {
        format!("{:.1} µs", p99 as f64 / 1000.0)
    };
    let (done, unit) = match live.transactions {
        true => ("committed", "txn/s"),
        false => ("acked", "ev/s"),
    };
    format!(
        "{phase} {elapsed:.1}/{total:.0} s  {acked} {done}  {per_second:.0} {unit}  p99 {p99}  {} in flight",
        sent.saturating_sub(acked)
    )
}

/// Acknowledgements per second over the last second or so.
struct RateMeter {
    at: Instant,
    acked: u64,
    rate: f64,
}

impl RateMeter {
    fn new() -> Self {
        Self {
            at: Instant::now(),
            acked: 0,
            rate: 0.0,
        }
    }

    fn update(&mut self, now: Instant, live: &Live) -> f64 {
        let elapsed = (now - self.at).as_secs_f64();
        if elapsed >= 1.0 {
            let acked = live.acked.load(Ordering::Relaxed);
            self.rate = (acked - self.acked) as f64 / elapsed;
            self.acked = acked;
            self.at = now;
        }
        self.rate
    }
}

//! Node observability: per-core counters and a Prometheus page over HTTP.
//!
//! - `counters`, `histogram`: what a core counts, as plain `Cell`s it owns
//!   (one thread per core: no atomics, no sharing on the hot path).
//! - `snapshot`: a core's figures at one moment, as plain data.
//! - `gather`: a scrape asks every core for a snapshot over a small bounded
//!   queue per core; each core answers from a task of its own.
//! - `exposition`: the text format (Prometheus 0.0.4); names in
//!   `docs/metrics.md`.
//! - `machine`: CPUs, memory and disk space, read at each scrape.
//! - `http`, `server`: a tiny HTTP/1.1 server on a std thread, `GET /metrics`
//!   only, bounded requests, one connection at a time.

mod counters;
mod exposition;
mod gather;
mod histogram;
mod http;
mod machine;
mod server;
mod snapshot;

pub use counters::{AppendSize, CoreMetrics};
pub use gather::{ScrapeInbox, Scrapers, answer, channels};
pub use machine::Watched;
pub use server::{MetricsError, bind, spawn};

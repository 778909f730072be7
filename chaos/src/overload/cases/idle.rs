//! Idle connections: opened, handshaken, then silent while the probe works.
//! At the end every one of them must still be served (a `Ping` each).

use spate_wire::{Ping, Reply, Request};

use super::{CaseResult, Target, hold, open_many};
use crate::overload::budget;
use crate::overload::probe::Probe;
use crate::overload::raw::reply_name;

/// Runs the case with `n` idle connections.
pub fn run(target: &Target, probe: &Probe, n: usize) -> CaseResult {
    let mut result = CaseResult::default();
    let mut conns = open_many(&target.cores, n, &mut result.answers);
    result.did.push(format!(
        "{n} connections opened, {} handshaken, then silent",
        conns.len()
    ));
    if let Some(failure) = hold(target, probe, || {}) {
        result.failures.push(failure);
    }
    let mut pongs = 0;
    for (i, conn) in conns.iter_mut().enumerate() {
        let ping = Request::Ping(Ping { nonce: i as u64 });
        match conn.call(&ping) {
            Ok(Reply::Pong(p)) if p.nonce == i as u64 => pongs += 1,
            Ok(other) => result.answers.add(format!("ping: {}", reply_name(&other))),
            Err(e) => result.answers.add(format!("ping: {}", e.outcome())),
        }
    }
    result
        .did
        .push(format!("{pongs} of them answered a ping afterwards"));
    if pongs < conns.len() {
        result.failures.push(format!(
            "{} idle connections were not served afterwards",
            conns.len() - pongs
        ));
    }
    if conns.len() < n {
        result.failures.push(format!(
            "{} of {n} connections were refused below the connection limit {}",
            n - conns.len(),
            target.limits().max_connections
        ));
    }
    result.bound = budget::connections(conns.len());
    result
}

//! Past the connection limit: connections beyond the node's
//! `max_connections` (from its handshake) must be refused with
//! `TooManyConnections` (301), not reset or left hanging, while the
//! connections already open, the probe's among them, go on being served.
//! Once they close, a new connection must get in again.

use std::time::Duration;

use super::{CaseResult, Target, hold, open_many};
use crate::overload::budget;
use crate::overload::probe::Probe;
use crate::overload::raw::RawConn;

/// Connections tried beyond the limit.
const EXTRA: usize = 50;
/// The refusal the protocol names for this.
const REFUSAL: &str = "TooManyConnections (301)";

/// Runs the case; `already_open` connections of the harness (the probe's)
/// count against the limit too.
pub fn run(target: &Target, probe: &Probe, already_open: usize) -> CaseResult {
    let mut result = CaseResult::default();
    let limit = target.limits().max_connections as usize;
    let tries = (limit + EXTRA).saturating_sub(already_open);
    let conns = open_many(&target.cores, tries, &mut result.answers);
    let refused = result.answers.get(REFUSAL) as usize;
    result.did.push(format!(
        "{tries} connections tried against a limit of {limit} ({already_open} open already): \
         {} handshaken, {refused} refused",
        conns.len()
    ));
    if conns.len() + already_open > limit {
        result.failures.push(format!(
            "the node took {} connections, over its limit of {limit}",
            conns.len() + already_open
        ));
    }
    if conns.len() + refused < tries {
        result.failures.push(format!(
            "{} connections were neither served nor refused with {REFUSAL}",
            tries - conns.len() - refused
        ));
    }
    if refused == 0 {
        result
            .failures
            .push(format!("no connection was refused with {REFUSAL}"));
    }
    if let Some(failure) = hold(target, probe, || {}) {
        result.failures.push(failure);
    }
    let held = conns.len();
    drop(conns);
    // The node learns of the closes asynchronously: try a bounded number
    // of times.
    let mut back = false;
    for _ in 0..1_000 {
        if RawConn::open(target.cores[0]).is_ok() {
            back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if !back {
        result
            .failures
            .push("no connection was taken again after the others closed".into());
    }
    result.bound = budget::connections(held);
    result
}

//! A crash point for tests: with `SPATE_CONTROLLER_CRASH_AFTER=KIND` set
//! (debug builds only), the node exits abruptly right after an event of
//! that kind (say `ScaleStarted`) is durable in a stream log, so a test can
//! restart it in the middle of a workflow. Release builds ignore it.

use crate::controller::StreamEvent;

/// The exit code of such a crash.
const CRASH_EXIT_CODE: i32 = 86;

pub fn after_event(log: &str, event: &StreamEvent) {
    if !cfg!(debug_assertions) {
        return;
    }
    let Ok(kind) = std::env::var("SPATE_CONTROLLER_CRASH_AFTER") else {
        return;
    };
    if event.name() == kind {
        eprintln!("spate-node: crashing after {kind} in {log} (SPATE_CONTROLLER_CRASH_AFTER)");
        std::process::exit(CRASH_EXIT_CODE);
    }
}

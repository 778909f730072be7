//! Moving to new segments after a seal: once every event in flight has
//! resolved, learn the stream's current segments, open writers for the new
//! ones, and resend the refused events in number order before any new
//! write goes out.

use std::sync::Arc;
use std::time::Duration;

use spate_wire::StreamPhase;

use super::super::StreamName;
use super::super::description::StreamInfo;
use super::pending::{complete, fail_all, resolved_flushes};
use super::{Route, Sender, Shared};
use crate::client::Client;
use crate::error::ClientError;
use crate::sync::lock;

/// Pauses while a stream is between epochs (a scale under way elsewhere).
const PHASE_PAUSE: Duration = Duration::from_millis(50);
const PHASE_ATTEMPTS: u32 = 200;

/// Describes the stream, waiting (bounded) while a workflow is under way.
pub(super) fn describe_active(
    client: &Client,
    name: &StreamName,
) -> Result<StreamInfo, ClientError> {
    for _ in 0..PHASE_ATTEMPTS {
        let info = client
            .describe_stream(name)
            .wait()?
            .found(&name.to_string())?;
        match info.phase() {
            StreamPhase::Active => return Ok(info),
            StreamPhase::Sealed | StreamPhase::Sealing | StreamPhase::Deleting => {
                return Err(ClientError::invalid(format!("stream {name} is sealed")));
            }
            _ => std::thread::sleep(PHASE_PAUSE),
        }
    }
    Err(ClientError::retryable(format!(
        "stream {name} stayed between epochs; retry"
    )))
}

/// Writers for the current segments, reusing those in `known`.
pub(super) fn routes_for(
    client: &Client,
    info: &StreamInfo,
    writer_id: u128,
    known: &[Route],
) -> Result<Vec<Route>, ClientError> {
    info.current_segments()
        .into_iter()
        .map(|segment| {
            let writer = match known.iter().find(|r| r.number == segment.number) {
                Some(route) => Arc::clone(&route.writer),
                None => {
                    Arc::new(client.segment_writer(&info.segment_name(segment.number), writer_id)?)
                }
            };
            Ok(Route {
                number: segment.number,
                range: segment.range,
                writer,
            })
        })
        .collect()
}

/// Runs the move on its own thread: it waits on the node, which the thread
/// that saw the seal (a connection's reader) must not.
pub(super) fn start(shared: Arc<Shared>) {
    let spawned = std::thread::Builder::new()
        .name("spate-event-writer-refresh".into())
        .spawn({
            let shared = Arc::clone(&shared);
            move || run(&shared)
        });
    if let Err(error) = spawned {
        give_up(
            &shared,
            ClientError::fatal(format!("starting a thread: {error}")),
        );
    }
}

fn run(shared: &Arc<Shared>) {
    loop {
        let mut sender = lock(&shared.sender);
        if let Err(error) = move_on(shared, &mut sender) {
            drop(sender);
            give_up(shared, error);
            return;
        }
        drop(sender);
        let mut state = lock(&shared.state);
        // Events resent just now may have met another seal already.
        let again = !state.resend.is_empty();
        if again && !state.in_flight.is_empty() {
            // The last of those to resolve starts the next move.
            state.refreshing = false;
            drop(state);
            shared.changed.notify_all();
            return;
        }
        if !again {
            state.set_draining(shared, false);
            state.refreshing = false;
            drop(state);
            shared.changed.notify_all();
            return;
        }
    }
}

/// Learns the new segments and resends the refused events, in order.
fn move_on(shared: &Arc<Shared>, sender: &mut Sender) -> Result<(), ClientError> {
    let info = describe_active(&shared.client, &shared.name)?;
    sender.routes = routes_for(&shared.client, &info, shared.writer_id, &sender.routes)?;
    let resend = std::mem::take(&mut lock(&shared.state).resend);
    for (number, pending) in resend {
        shared.send(sender, number, pending);
    }
    Ok(())
}

fn give_up(shared: &Arc<Shared>, error: ClientError) {
    let mut done = Vec::new();
    let mut state = lock(&shared.state);
    fail_all(&mut state, error, &mut done);
    state.set_draining(shared, false);
    state.refreshing = false;
    let flushes = resolved_flushes(&mut state);
    drop(state);
    shared.changed.notify_all();
    complete(done, flushes);
}

//! Serving one request: on this core if it owns the segment's container,
//! otherwise on the owning core through its bounded inbox.

use std::cell::RefCell;
use std::num::NonZeroU32;
use std::rc::Rc;
use std::time::Duration;

use glommio::sync::Semaphore;
use spate_wire::{ErrorReply, Reply, Request, StatusCode};

use super::core::{CoreState, Started};
use super::readback;
use super::streams::{self, StreamService};
use crate::container::{ContainerId, ReadOutcome};

/// A request handed to the core that owns its segment.
pub struct Forwarded {
    /// The segment's container, as the forwarding core computed it.
    pub container: ContainerId,
    pub request: Request,
    pub reply: flume::Sender<Reply>,
}

/// What every connection task of a core shares.
pub struct CoreContext {
    pub state: Rc<RefCell<CoreState>>,
    pub containers: NonZeroU32,
    /// The core owning each container.
    pub container_cores: Rc<Vec<u16>>,
    /// Inboxes of every core, this one included (unused).
    pub inboxes: Rc<Vec<flume::Sender<Forwarded>>>,
    pub index: usize,
    /// The controller: the streams whose metadata logs this core owns.
    pub streams: StreamService,
    /// This core's flusher, for `CompactNow` (none with `--no-flush`).
    pub compactions: Option<flume::Sender<super::flusher::CompactJob>>,
}

impl CoreContext {
    /// Serves a segment, scope or stream request on the core that owns its
    /// routing segment (the stream's log for a stream request).
    pub async fn serve(&self, request: Request) -> Reply {
        if let Request::CompactNow(compact) = request {
            return self.compact_now(compact.drop_hot).await;
        }
        if !request.is_stream_request() {
            // Metadata sizes may be looked at (`GetInfo`), never anything else.
            if let Some(segment) = request.segment()
                && spate_wire::is_controller_segment(segment)
                && !matches!(request, Request::GetInfo(_))
            {
                let message = format!(
                    "segment {segment} is the controller's metadata; use the scope and stream \
                     requests"
                );
                return error(StatusCode::InvalidSegmentName, &message);
            }
            return self.serve_segment(request).await;
        }
        let Some(route) = request.routing_segment() else {
            return error(
                StatusCode::UnexpectedMessage,
                "a stream request without a route",
            );
        };
        let container = spate_wire::container_for(&route, self.containers);
        drop(route);
        let owner = usize::from(self.container_cores[container as usize]);
        if owner == self.index {
            return streams::serve(self, request).await;
        }
        self.forward(owner, container, request).await
    }

    /// Serves a request forwarded by another core (which routed it here).
    pub async fn serve_here(&self, container: ContainerId, request: Request) -> Reply {
        match request.is_stream_request() {
            true => streams::serve(self, request).await,
            false => serve_local(&self.state, container, request).await,
        }
    }

    /// Serves a segment request wherever its segment lives. The controller
    /// uses this for its own segment work.
    pub async fn serve_segment(&self, request: Request) -> Reply {
        let Some(segment) = request.segment() else {
            return error(StatusCode::UnexpectedMessage, "not a segment request");
        };
        let container = spate_wire::container_for(segment, self.containers);
        let owner = usize::from(self.container_cores[container as usize]);
        if owner == self.index {
            return serve_local(&self.state, container, request).await;
        }
        self.forward(owner, container, request).await
    }

    /// Has this core's flusher flush, close, store and (with `drop_hot`)
    /// drop local copies now.
    async fn compact_now(&self, drop_hot: bool) -> Reply {
        let Some(compactions) = &self.compactions else {
            return error(
                StatusCode::InvalidArgument,
                "this node runs with --no-flush: its data stays in the journal",
            );
        };
        let (reply, done) = flume::bounded(1);
        let job = super::flusher::CompactJob { drop_hot, reply };
        if compactions.send_async(job).await.is_err() {
            return error(StatusCode::ShuttingDown, "the flusher stopped");
        }
        match done.recv_async().await {
            Ok(compacted) => Reply::CompactedNow(compacted),
            Err(_) => error(StatusCode::ShuttingDown, "the flusher stopped"),
        }
    }

    /// Hands `request` to core `owner` and waits for its reply.
    async fn forward(&self, owner: usize, container: ContainerId, request: Request) -> Reply {
        let (reply, replied) = flume::bounded(1);
        if self.inboxes[owner]
            .send_async(Forwarded {
                container,
                request,
                reply,
            })
            .await
            .is_err()
        {
            return error(StatusCode::ShuttingDown, "the owning core has stopped");
        }
        replied
            .recv_async()
            .await
            .unwrap_or_else(|_| error(StatusCode::ShuttingDown, "the owning core has stopped"))
    }
}

/// Serves a request for a container this core owns.
pub async fn serve_local(
    state: &Rc<RefCell<CoreState>>,
    container: ContainerId,
    request: Request,
) -> Reply {
    if let Request::Read(read) = request {
        return serve_read(state, container, read).await;
    }
    let started = state.borrow_mut().execute(container, request, now_ms());
    match started {
        Started::Done(reply) => reply,
        Started::Durable(done) => done.recv_async().await.unwrap_or_else(|_| {
            error(
                StatusCode::ShuttingDown,
                "the node stopped before the write was durable",
            )
        }),
    }
}

/// Reads of evicted data that may read the journal back at once, per core.
/// Each holds its journal read (up to a record, 16 MiB) and the pieces it
/// takes from it; a thousand readers of evicted data must not hold a
/// thousand of those at once. Two keep the disk busy: each is one large read.
const READBACKS_PER_CORE: u64 = 2;

thread_local! {
    /// The loads of one core. Thread-local because each core is one thread
    /// (its executor) and loads run on the core that owns the data.
    static READBACKS: Rc<Semaphore> = Rc::new(Semaphore::new(READBACKS_PER_CORE));
}

/// A read; at the tail of an open segment it waits up to `wait_ms` for data.
async fn serve_read(
    state: &Rc<RefCell<CoreState>>,
    container: ContainerId,
    read: spate_wire::Read,
) -> Reply {
    let deadline = std::time::Instant::now() + Duration::from_millis(u64::from(read.wait_ms));
    loop {
        let outcome = state
            .borrow()
            .read(container, &read.segment, read.offset, read.max_bytes);
        let ReadOutcome::AtTail = outcome else {
            return match outcome {
                ReadOutcome::Reply(reply) => reply,
                ReadOutcome::Load(_) => load(state, container, &read).await,
                ReadOutcome::AtTail => unreachable!("handled above"),
            };
        };
        let now = std::time::Instant::now();
        if now >= deadline {
            return empty_read(state, container, &read);
        }
        let Some(woken) = state.borrow_mut().wait_for_tail(&read.segment) else {
            return error(
                StatusCode::Busy,
                "too many readers wait at segment tails on this core; retry",
            );
        };
        let timeout = glommio::timer::sleep(deadline - now);
        futures_lite::future::or(
            async {
                let _ = woken.recv_async().await;
            },
            timeout,
        )
        .await;
    }
}

/// Reads evicted data back from the journal, once one of the core's
/// read-back places is free. The plan is made again after the wait: the
/// data may have moved (released, truncated) or come back into memory.
async fn load(
    state: &Rc<RefCell<CoreState>>,
    container: ContainerId,
    read: &spate_wire::Read,
) -> Reply {
    let readbacks = READBACKS.with(Rc::clone);
    // Only a closed semaphore fails, and nothing closes this one.
    let _place = readbacks.acquire_static_permit(1).await.ok();
    let outcome = state
        .borrow()
        .read(container, &read.segment, read.offset, read.max_bytes);
    match outcome {
        ReadOutcome::Reply(reply) => reply,
        ReadOutcome::Load(plan) => {
            let max_record = state.borrow().max_record_bytes();
            readback::load(state, plan, max_record).await
        }
        // The segment was at a length past this offset a moment ago, and a
        // segment never shrinks: only a deleted and recreated one could be
        // here. Its length is what an empty read reports.
        ReadOutcome::AtTail => empty_read(state, container, read),
    }
}

/// The reply to a read that found no new data before its wait ran out.
fn empty_read(
    state: &Rc<RefCell<CoreState>>,
    container: ContainerId,
    read: &spate_wire::Read,
) -> Reply {
    // A zero-byte read reports the current length without data.
    match state
        .borrow()
        .read(container, &read.segment, read.offset, 0)
    {
        ReadOutcome::Reply(reply) => reply,
        // A zero-byte read needs no data: only the length matters.
        ReadOutcome::Load(plan) => Reply::ReadData(spate_wire::ReadData {
            offset: plan.offset,
            data: Vec::new(),
            end_of_segment: plan.end_of_segment,
            length: plan.length,
        }),
        ReadOutcome::AtTail => Reply::ReadData(spate_wire::ReadData {
            offset: read.offset,
            data: Vec::new(),
            end_of_segment: false,
            length: read.offset,
        }),
    }
}

pub fn error(status: StatusCode, message: &str) -> Reply {
    Reply::Error(ErrorReply {
        status: status.code(),
        retry: status.default_advice(),
        message: message.to_string(),
    })
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

//! The controller service: serves scope and stream requests on the core
//! that owns each stream's metadata log, using the pure stream model in
//! `crate::controller`, and runs the periodic jobs (auto-scaling,
//! retention, transaction leases) for the streams whose logs this core
//! owns.
//!
//! Everything it stores is in segments (the logs and registries) written
//! with conditional appends, so it is journaled and checkpointed like any
//! data, and a restart finds it all again (`resume.rs`).

mod autoscale;
mod describe;
mod faults;
mod lifecycle;
mod logs;
mod registry;
mod resume;
mod retention;
mod scopes;
mod slot;
mod txn;
mod txn_work;
mod waves;
mod workflow;

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use spate_wire::{Reply, Request, StatusCode};

use super::dispatch::{CoreContext, error};
use super::notify::Notify;
use slot::StreamSlot;

/// Timing of the controller's periodic jobs.
#[derive(Clone, Copy, Debug)]
pub struct ControllerSettings {
    /// Rates are averaged over this, and a segment must be this old before
    /// auto-scaling touches it.
    pub scale_window_ms: u64,
    pub retention_interval_ms: u64,
}

impl ControllerSettings {
    /// How often the scaler looks: a few times per window, at most once
    /// every 250 ms.
    fn scale_tick(&self) -> Duration {
        Duration::from_millis((self.scale_window_ms / 4).max(250))
    }
}

/// The streams of one core (those whose logs it owns and that a request or
/// the start-up scan touched).
pub struct StreamService {
    pub settings: ControllerSettings,
    slots: RefCell<HashMap<String, Rc<StreamSlot>>>,
}

impl StreamService {
    pub fn new(settings: ControllerSettings) -> Self {
        Self {
            settings,
            slots: RefCell::new(HashMap::new()),
        }
    }

    /// The slot of `scope/stream`, made on first use.
    fn slot(&self, scope: &str, stream: &str) -> Rc<StreamSlot> {
        let log = spate_wire::stream_log_segment(scope, stream);
        self.slots
            .borrow_mut()
            .entry(log)
            .or_insert_with(|| Rc::new(StreamSlot::new(scope, stream)))
            .clone()
    }

    fn remove(&self, log: &str) {
        self.slots.borrow_mut().remove(log);
    }

    fn all(&self) -> Vec<Rc<StreamSlot>> {
        self.slots.borrow().values().cloned().collect()
    }
}

/// Serves a scope or stream request on the core that owns its routing
/// segment.
pub async fn serve(ctx: &CoreContext, request: Request) -> Reply {
    let result = match request {
        Request::CreateScope(r) => scopes::create_scope(ctx, r.scope).await,
        Request::DeleteScope(r) => scopes::delete_scope(ctx, r.scope).await,
        Request::ListScopes(_) => scopes::list_scopes(ctx).await,
        Request::ListStreams(r) => scopes::list_streams(ctx, r.scope).await,
        Request::CreateStream(r) => {
            let config = r.config;
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                lifecycle::create(ctx, &slot, config).await
            })
            .await
        }
        Request::DescribeStream(r) => {
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                describe::describe(ctx, &slot).await
            })
            .await
        }
        Request::UpdateStream(r) => {
            let config = r.config;
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                lifecycle::update(ctx, &slot, config).await
            })
            .await
        }
        Request::ScaleStream(r) => {
            let (seal, ranges) = (r.seal, r.ranges);
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                lifecycle::scale(ctx, &slot, seal, ranges).await
            })
            .await
        }
        Request::TruncateStream(r) => {
            let positions = r.positions;
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                lifecycle::truncate(ctx, &slot, positions).await
            })
            .await
        }
        Request::SealStream(r) => {
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                lifecycle::seal(ctx, &slot).await
            })
            .await
        }
        Request::DeleteStream(r) => {
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                lifecycle::delete(ctx, &slot).await
            })
            .await
        }
        Request::BeginTxn(r) => {
            let lease_ms = r.lease_ms;
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                txn::begin(ctx, &slot, lease_ms).await
            })
            .await
        }
        Request::PingTxn(r) => {
            let (id, lease_ms) = (r.id, r.lease_ms);
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                txn::ping(ctx, &slot, id, lease_ms).await
            })
            .await
        }
        Request::CommitTxn(r) => {
            let id = r.id;
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                txn::commit(ctx, &slot, id).await
            })
            .await
        }
        Request::AbortTxn(r) => {
            let id = r.id;
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                txn::abort(ctx, &slot, id).await
            })
            .await
        }
        Request::GetTxnState(r) => {
            let id = r.id;
            on_stream(ctx, &r.scope, &r.stream, |slot| async move {
                txn::get_state(ctx, &slot, id).await
            })
            .await
        }
        _ => return error(StatusCode::UnexpectedMessage, "not a stream request"),
    };
    result.unwrap_or_else(logs::StepError::into_reply)
}

/// Runs `op` on the stream with its lock held; forgets the slot of a
/// stream that turned out not to exist, so probing names costs nothing.
async fn on_stream<'a, F, Fut>(
    ctx: &'a CoreContext,
    scope: &str,
    stream: &str,
    op: F,
) -> Result<Reply, logs::StepError>
where
    F: FnOnce(Rc<StreamSlot>) -> Fut,
    Fut: std::future::Future<Output = Result<Reply, logs::StepError>> + 'a,
{
    let slot = ctx.streams.slot(scope, stream);
    let permit = slot.lock().await;
    let result = op(slot.clone()).await;
    drop(permit);
    let exists = slot.with_state(|_| ()).is_some();
    if !exists && !slot.in_use() {
        ctx.streams.remove(&slot.log);
    }
    result
}

/// The controller's background work on one core: resume interrupted
/// workflows, then run auto-scaling and retention until `stop`.
pub async fn background(ctx: Rc<CoreContext>, stop: Notify) {
    resume::resume(&ctx).await;
    let settings = ctx.streams.settings;
    let scale_every = settings.scale_tick();
    let retention_every = Duration::from_millis(settings.retention_interval_ms);
    let mut next_scale = Instant::now() + scale_every;
    let mut next_retention = Instant::now() + retention_every;
    let mut next_lease = Instant::now() + LEASE_TICK;
    loop {
        let wake = next_scale.min(next_retention).min(next_lease);
        let stopped = futures_lite::future::or(
            async {
                glommio::timer::sleep(wake.saturating_duration_since(Instant::now())).await;
                false
            },
            async {
                stop.wait().await;
                true
            },
        )
        .await;
        if stopped {
            return;
        }
        if Instant::now() >= next_scale {
            next_scale = Instant::now() + scale_every;
            scale_all(&ctx).await;
        }
        if Instant::now() >= next_retention {
            next_retention = Instant::now() + retention_every;
            retain_all(&ctx).await;
        }
        if Instant::now() >= next_lease {
            next_lease = Instant::now() + LEASE_TICK;
            expire_all(&ctx).await;
        }
    }
}

/// How often leases are checked: a fraction of the shortest lease.
const LEASE_TICK: Duration = Duration::from_millis(spate_wire::MIN_TXN_LEASE_MS);

async fn expire_all(ctx: &CoreContext) {
    for slot in ctx.streams.all().into_iter().filter(|s| txn::has_open(s)) {
        let Some(_permit) = slot.lock().await else {
            continue;
        };
        if let Err(error) = txn::expire(ctx, &slot).await {
            tracing::warn!(stream = %slot.log, ?error, "aborting expired transactions failed; retrying next tick");
        }
    }
}

async fn scale_all(ctx: &CoreContext) {
    for slot in ctx.streams.all() {
        if let Err(error) = autoscale::tick(ctx, &slot).await {
            tracing::warn!(stream = %slot.log, ?error, "auto-scaling step failed; retrying next tick");
        }
    }
}

async fn retain_all(ctx: &CoreContext) {
    for slot in ctx.streams.all() {
        if let Err(error) = retention::cycle(ctx, &slot).await {
            tracing::warn!(stream = %slot.log, ?error, "retention step failed; retrying next cycle");
        }
    }
}

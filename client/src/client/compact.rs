//! `CompactNow` on every core: flush, close hot chunk files, store them in
//! the tier and (optionally) drop the local copies, now rather than when
//! the node gets to it. For tests, benchmarks and operators.

use spate_wire::{CompactNow, CompactedNow, Reply, Request};

use super::Client;
use super::call::{Call, Route, Safety};
use crate::error::{ClientError, unexpected};

impl Client {
    /// Has every core of the node compact now; answers once all have, one
    /// result per core (in core order). With `drop_hot`, local copies of
    /// what the tier now holds are deleted.
    pub fn compact_now(&self, drop_hot: bool) -> Result<Vec<CompactedNow>, ClientError> {
        let cores = self.inner.topology().core_count();
        let calls: Vec<_> = (0..cores)
            .map(|core| {
                Call::start(
                    &self.inner,
                    Route::Core(core as u16),
                    Request::CompactNow(CompactNow { drop_hot }),
                    Safety::Idempotent,
                    |reply| match reply {
                        Reply::CompactedNow(done) => Ok(done),
                        other => Err(unexpected("CompactNow", &other)),
                    },
                )
            })
            .collect();
        calls.into_iter().map(|call| call.wait()).collect()
    }
}

//! How a scrape gets each core's figures: it hands every core a reply
//! channel over a small bounded queue of its own, and the core answers
//! between requests (`answer`). Nothing is shared with the cores but these
//! channels, and a core that is slow or stopped only leaves itself out.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::snapshot::CoreSnapshot;
use crate::runtime::core::CoreState;

/// Where a core sends its snapshot for one scrape.
pub type ScrapeRequest = flume::Sender<CoreSnapshot>;

/// Scrapes a core may have queued. Scrapes run one at a time, so more than
/// one waits only while a core is stuck; then it is skipped, not queued up.
const QUEUED_PER_CORE: usize = 2;

/// The scraper's side: one queue per core.
#[derive(Clone)]
pub struct Scrapers {
    cores: Vec<flume::Sender<ScrapeRequest>>,
}

/// A core's side of its queue.
pub type ScrapeInbox = flume::Receiver<ScrapeRequest>;

/// The queues for `cores` cores: the scraper's side and each core's inbox.
pub fn channels(cores: usize) -> (Scrapers, Vec<ScrapeInbox>) {
    let (senders, inboxes) = (0..cores).map(|_| flume::bounded(QUEUED_PER_CORE)).unzip();
    (Scrapers { cores: senders }, inboxes)
}

impl Scrapers {
    pub fn cores(&self) -> usize {
        self.cores.len()
    }

    /// Every core's snapshot that arrives within `patience`, in core order.
    pub fn gather(&self, patience: Duration) -> Vec<CoreSnapshot> {
        let (reply, replies) = flume::bounded(self.cores.len());
        let asked = self
            .cores
            .iter()
            .filter(|core| core.try_send(reply.clone()).is_ok())
            .count();
        drop(reply);
        let deadline = Instant::now() + patience;
        let mut snapshots: Vec<CoreSnapshot> = (0..asked)
            .map_while(|_| replies.recv_deadline(deadline).ok())
            .collect();
        snapshots.sort_by_key(|s| s.core);
        snapshots
    }
}

/// Runs on a core: answers each scrape with a snapshot of its state.
/// `cache_budget_bytes` is this core's share of the cache, fixed at start.
pub async fn answer(state: Rc<RefCell<CoreState>>, cache_budget_bytes: u64, inbox: ScrapeInbox) {
    while let Ok(reply) = inbox.recv_async().await {
        let snapshot = state.borrow().metrics_snapshot(cache_budget_bytes);
        // The scraper may have given up waiting; nothing to do then.
        let _ = reply.try_send(snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_core_that_does_not_answer_is_left_out_and_never_queued_past_its_bound() {
        let (scrapers, inboxes) = channels(3);
        let mut inboxes = inboxes.into_iter();
        let (answering, silent, gone) = (
            inboxes.next().expect("core 0"),
            inboxes.next().expect("core 1"),
            inboxes.next().expect("core 2"),
        );
        drop(gone);
        let core0 = std::thread::spawn(move || {
            for reply in answering.iter().take(QUEUED_PER_CORE + 2) {
                let _ = reply.send(CoreSnapshot::default());
            }
        });
        for _ in 0..QUEUED_PER_CORE + 2 {
            let got = scrapers.gather(Duration::from_millis(20));
            assert_eq!(got.iter().map(|s| s.core).collect::<Vec<_>>(), vec![0]);
        }
        // Core 1 never read its queue: it holds its bound, no more.
        assert_eq!(silent.len(), QUEUED_PER_CORE);
        core0.join().expect("core 0 answered");
    }
}

//! Payloads of journal records (by LSN) or hot chunks (by file and
//! offset) read back lately, already verified.
//!
//! A reader catching up through evicted data asks for one batch record piece
//! by piece (its reads are smaller than the record). Each piece needs the
//! whole record, because the CRC covers all of it; keeping the last few
//! verified payloads makes such a scan read and check each record once.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::rc::Rc;

use spate_journal::Lsn;

/// Bytes of payloads a core keeps.
pub const RECENT_RECORDS_BYTES: usize = 32 << 20;
/// Bytes of hot chunks a core keeps (each at most a flush run or a record):
/// enough that readers catching up on a few dozen segments at once each
/// find the rest of their extent here.
pub const RECENT_HOT_BYTES: usize = 64 << 20;

#[derive(Debug)]
pub struct RecentRecords<K = Lsn> {
    limit: usize,
    bytes: usize,
    payloads: HashMap<K, Rc<[u8]>>,
    /// Insertion order, oldest first: the eviction order.
    order: VecDeque<K>,
}

impl<K: Copy + Eq + Hash> RecentRecords<K> {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: 0,
            payloads: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn get(&self, lsn: K) -> Option<Rc<[u8]>> {
        self.payloads.get(&lsn).cloned()
    }

    /// Keeps `payload` of record `lsn`, dropping the oldest kept ones to stay
    /// within the limit. A payload over the limit is not kept.
    pub fn insert(&mut self, lsn: K, payload: Rc<[u8]>) {
        if payload.len() > self.limit || self.payloads.contains_key(&lsn) {
            return;
        }
        while self.bytes + payload.len() > self.limit {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(dropped) = self.payloads.remove(&oldest) {
                self.bytes -= dropped.len();
            }
        }
        self.bytes += payload.len();
        self.order.push_back(lsn);
        self.payloads.insert(lsn, payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_payloads_within_its_limit() {
        let mut recent: RecentRecords = RecentRecords::new(10);
        recent.insert(1, Rc::from(&b"abcd"[..]));
        recent.insert(2, Rc::from(&b"efgh"[..]));
        recent.insert(3, Rc::from(&b"ij"[..]));
        assert_eq!(recent.get(1).as_deref(), Some(&b"abcd"[..]));
        recent.insert(4, Rc::from(&b"klm"[..]));
        assert!(recent.get(1).is_none(), "the oldest went first");
        assert_eq!(recent.get(4).as_deref(), Some(&b"klm"[..]));
        recent.insert(5, Rc::from(&[0u8; 11][..]));
        assert!(recent.get(5).is_none(), "over the limit: not kept");
        assert!(recent.bytes <= 10);
    }
}

//! Attempts beyond the tracking caps, kept in a few bytes each so that every listener's counts
//! stay exact under a flood.
//!
//! A connection record costs hundreds of bytes; an aggregated attempt here costs a 64-bit key,
//! both ISNs, its arrival time and four outcome bits, for as long as the attempt can still be
//! answered or retransmitted (Linux's last SYN retransmission comes 127 s after the SYN,
//! tcp_syn_retries = 6; its last SYN-ACK retransmission 63 s after, tcp_synack_retries = 5).
//! That is enough to tell a retransmitted SYN (same ISN, RFC 9293 §3.8.1) from a new attempt,
//! a SYN-ACK (acknowledging ISN+1, RFC 9293 §3.5) from its retransmissions, and a refusal, a
//! completion or the initiator's reset from one another, which is all the per-listener counts
//! need. The table is bounded too: when it is full the oldest attempt is forgotten early (its
//! counts stay; later segments of it are not attributed) and that is counted.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::net::IpAddr;

use hashbrown::hash_table::Entry;
use hashbrown::{HashMap, HashTable};

use super::MAX_LISTENERS;
use crate::time::{Duration, Timestamp};
use crate::wire::table_bytes;
use crate::wire::{Endpoint, SeqNum};

/// How long an aggregated attempt is remembered after its SYN: past Linux's last SYN
/// retransmission (127 s), as the connection table's attempt timeout.
const LIFETIME: Duration = Duration::from_secs(130);

/// Bytes of one listener's entry in the counts.
const COUNTS_ENTRY: usize = std::mem::size_of::<(Endpoint, AttemptCounts)>();

/// Outcome bits of an aggregated attempt.
const ANSWERED: u8 = 1;
const REFUSED: u8 = 2;
const ESTABLISHED: u8 = 4;
const SOURCE_RST: u8 = 8;

/// Connection attempts to one listener and how they ended, counted whether they were tracked as
/// connection records or aggregated beyond the caps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttemptCounts {
    /// Connection attempts (SYN seen; a retransmitted SYN is the same attempt).
    pub attempts: u64,
    /// Attempts answered by a SYN-ACK.
    pub answered: u64,
    /// Attempts whose handshake completed (third ACK or data).
    pub established: u64,
    /// Attempts answered by RST without a SYN-ACK (refused).
    pub refused: u64,
    /// Attempts that got no answer at all.
    pub unanswered: u64,
}

impl AttemptCounts {
    /// Adds `o`'s counts to these.
    pub fn add(&mut self, o: &AttemptCounts) {
        self.attempts += o.attempts;
        self.answered += o.answered;
        self.established += o.established;
        self.refused += o.refused;
        self.unanswered += o.unanswered;
    }
}

/// One aggregated attempt, in SYN order.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Its four-tuple, hashed ([`PendingAttempts::key`]).
    key: u64,
    isn: u32,
    resp_isn: u32,
    born: Timestamp,
    state: u8,
    /// A later SYN with another ISN replaced it (a new attempt on the same four-tuple).
    replaced: bool,
}

/// What a segment of an aggregated attempt told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Told {
    /// The segment is no answer to an aggregated attempt.
    Nothing,
    /// A repeat of what an aggregated attempt already told (a retransmitted SYN-ACK, another
    /// RST).
    Repeat,
    /// The listener's first SYN-ACK.
    Answered,
    /// The listener refused the attempt (RST, no SYN-ACK).
    Refused,
    /// The initiator acknowledged the SYN-ACK: the handshake completed.
    Established,
    /// The initiator reset the attempt; `after_synack` when the listener's SYN-ACK was captured
    /// (a spoofed source's real owner answering a SYN-ACK it never asked for: backscatter).
    SourceReset {
        /// The listener's SYN-ACK was seen first.
        after_synack: bool,
    },
}

/// The aggregated attempts still remembered, and every listener's counts of them.
///
/// The attempts live in a queue in SYN order, which is also the order they are forgotten in;
/// an index finds an attempt's place in the queue by its key. The index holds 4-byte positions
/// rather than the attempts, so that under a flood, when it holds a few hundred thousand and
/// removes one for every one it adds, its size (doubled by hashbrown's deleted markers) stays a
/// few megabytes.
#[derive(Default)]
pub(super) struct PendingAttempts {
    hasher: foldhash::fast::RandomState,
    /// Attempts in SYN order, replaced ones included until their turn comes.
    queue: VecDeque<Pending>,
    /// How many attempts have left the front of the queue (positions count from the first
    /// attempt ever; 32 bits wrap harmlessly, the queue being shorter).
    popped: u32,
    /// The queue position of every attempt not replaced, hashed by its key.
    index: HashTable<u32>,
    /// The most attempts `index` has held at once: it is charged for twice that many (as
    /// [`PendingAttempts::budget_bytes`] assumes), not by its capacity, since when a table
    /// that removes one entry for every one it adds grows depends on where its deleted markers
    /// fell, so on the per-run seeded hasher.
    index_most: usize,
    /// Aggregated attempts remembered at most.
    pub(super) cap: usize,
    /// Attempts forgotten before their lifetime because the table was full.
    pub(super) forgotten_early: u64,
    counts: HashMap<Endpoint, AttemptCounts, foldhash::fast::RandomState>,
    /// Listeners counted on their own in `counts`, at most; the attempts of any other are
    /// counted together in `other`.
    max_listeners: usize,
    other: AttemptCounts,
    /// [`PendingAttempts::budget_bytes`], kept: it changes only with the caps, and the table
    /// asks for it before every new attempt.
    budget: usize,
}

impl PendingAttempts {
    /// Bytes of the queue, its index and the per-listener counts.
    pub(super) fn memory_bytes(&self) -> usize {
        self.queue.capacity() * std::mem::size_of::<Pending>()
            + 2 * table_bytes(self.index_most, std::mem::size_of::<u32>())
            + table_bytes(self.counts.capacity(), COUNTS_ENTRY)
    }

    /// The most [`PendingAttempts::memory_bytes`] can reach with the current caps: the queue
    /// at its largest capacity (a power of two), the index twice as large as its entries need
    /// (hashbrown keeps deleted markers until it rehashes), and every listener's counts.
    pub(super) fn budget_bytes(&self) -> usize {
        self.budget
    }

    /// [`PendingAttempts::budget_bytes`] for at most `cap` attempts and `max_listeners`
    /// listeners counted on their own.
    fn budget_for(cap: usize, max_listeners: usize) -> usize {
        let cap = cap.max(1);
        cap.next_power_of_two() * std::mem::size_of::<Pending>()
            + 2 * table_bytes(cap, std::mem::size_of::<u32>())
            + table_bytes(max_listeners, COUNTS_ENTRY)
    }

    /// Bounds [`PendingAttempts::budget_bytes`] to `bytes` (under a small `--max-memory`): fewer
    /// listeners counted on their own (their counts may take half of it), then fewer attempts
    /// remembered (the oldest are forgotten early, and counted). The defaults fit in any bound
    /// of 64 MiB or more, which this leaves as they are.
    pub(super) fn set_budget(&mut self, bytes: usize) {
        while self.max_listeners > 1 && table_bytes(self.max_listeners, COUNTS_ENTRY) > bytes / 2 {
            self.max_listeners /= 2;
        }
        while self.cap > 1 && Self::budget_for(self.cap, self.max_listeners) > bytes {
            self.cap /= 2;
        }
        self.budget = Self::budget_for(self.cap, self.max_listeners);
    }

    /// An empty table remembering at most `cap` attempts.
    pub(super) fn new(cap: usize) -> Self {
        PendingAttempts {
            cap,
            max_listeners: MAX_LISTENERS,
            budget: Self::budget_for(cap, MAX_LISTENERS),
            ..Default::default()
        }
    }

    fn key(&self, orig: (IpAddr, u16), listener: Endpoint) -> u64 {
        self.hasher.hash_one((orig, listener.addr, listener.port))
    }

    /// The queue slot of the attempt with `key` (the key is a hash already: it is its own).
    fn slot(&self, key: u64) -> Option<usize> {
        let (queue, popped) = (&self.queue, self.popped);
        self.index
            .find(key, |&pos| {
                queue[pos.wrapping_sub(popped) as usize].key == key
            })
            .map(|&pos| pos.wrapping_sub(popped) as usize)
    }

    /// The counts of `listener` (those beyond [`MAX_LISTENERS`], or beyond what the memory
    /// bound allows, are counted together).
    fn counts(&mut self, listener: Endpoint) -> &mut AttemptCounts {
        let n = self.counts.len();
        if n < self.max_listeners || self.counts.contains_key(&listener) {
            self.counts.entry(listener).or_default()
        } else {
            &mut self.other
        }
    }

    /// Forgets attempts whose lifetime is over at `now`, and the oldest one if the table is
    /// still full.
    fn expire(&mut self, now: Timestamp) {
        while let Some(&p) = self.queue.front() {
            let full = self.queue.len() >= self.cap.max(1);
            let alive = p.born.add(LIFETIME) > now;
            if !full && alive {
                break;
            }
            self.queue.pop_front();
            let pos = self.popped;
            self.popped = pos.wrapping_add(1);
            if !p.replaced {
                if let Ok(e) = self.index.find_entry(p.key, |&q| q == pos) {
                    e.remove();
                }
                self.forgotten_early += alive as u64;
            }
        }
    }

    /// Whether a SYN from `orig` to `listener` with `isn` repeats an aggregated attempt.
    pub(super) fn holds(&self, listener: Endpoint, orig: (IpAddr, u16), isn: SeqNum) -> bool {
        !self.index.is_empty()
            && self
                .slot(self.key(orig, listener))
                .is_some_and(|i| self.queue[i].isn == isn.0)
    }

    /// A SYN from `orig` to `listener` that no connection record holds. Returns whether it is a
    /// new attempt (false: a retransmission of one remembered, same ISN).
    pub(super) fn syn(
        &mut self,
        listener: Endpoint,
        orig: (IpAddr, u16),
        isn: SeqNum,
        ts: Timestamp,
    ) -> bool {
        self.expire(ts);
        let key = self.key(orig, listener);
        let pos = self.popped.wrapping_add(self.queue.len() as u32);
        // One probe: a retransmission (same ISN) is no new attempt; another ISN on the
        // four-tuple is, and the old attempt is forgotten (its counts stay).
        let (queue, popped) = (&self.queue, self.popped);
        let at = |q: u32| q.wrapping_sub(popped) as usize;
        let replaced =
            match self
                .index
                .entry(key, |&q| queue[at(q)].key == key, |&q| queue[at(q)].key)
            {
                Entry::Occupied(mut e) => {
                    let i = at(*e.get());
                    if queue[i].isn == isn.0 {
                        return false;
                    }
                    *e.get_mut() = pos;
                    Some(i)
                }
                Entry::Vacant(e) => {
                    e.insert(pos);
                    None
                }
            };
        if let Some(i) = replaced {
            self.queue[i].replaced = true;
        }
        self.index_most = self.index_most.max(self.index.len());
        self.queue.push_back(Pending {
            key,
            isn: isn.0,
            resp_isn: 0,
            born: ts,
            state: 0,
            replaced: false,
        });
        let c = self.counts(listener);
        c.attempts += 1;
        c.unanswered += 1;
        true
    }

    /// A segment between `orig` and `listener` that no connection record holds, sent by the
    /// listener when `from_listener`; what it told about an aggregated attempt.
    pub(super) fn segment(
        &mut self,
        listener: Endpoint,
        orig: (IpAddr, u16),
        from_listener: bool,
        seg: (SeqNum, SeqNum, crate::wire::TcpFlags),
    ) -> Told {
        if self.index.is_empty() {
            return Told::Nothing;
        }
        let (seq, ack, flags) = seg;
        let key = self.key(orig, listener);
        let Some(i) = self.slot(key) else {
            return Told::Nothing;
        };
        let p = &mut self.queue[i];
        let before = p.state;
        let told = if from_listener {
            if flags.is_syn_ack() && ack == SeqNum(p.isn).add(1) {
                if before & ANSWERED != 0 {
                    return Told::Repeat;
                }
                p.state |= ANSWERED;
                p.resp_isn = seq.0;
                Told::Answered
            } else if flags.rst() && before & (ANSWERED | REFUSED) == 0 {
                p.state |= REFUSED;
                Told::Refused
            } else if flags.rst() {
                return Told::Repeat;
            } else {
                return Told::Nothing;
            }
        } else if flags.rst() {
            if before & SOURCE_RST != 0 {
                return Told::Repeat;
            }
            p.state |= SOURCE_RST;
            Told::SourceReset {
                after_synack: before & ANSWERED != 0,
            }
        } else if flags.ack()
            && !flags.syn()
            && before & (ANSWERED | ESTABLISHED | SOURCE_RST) == ANSWERED
            && ack == SeqNum(p.resp_isn).add(1)
        {
            p.state |= ESTABLISHED;
            Told::Established
        } else {
            return Told::Nothing;
        };
        let c = self.counts(listener);
        match told {
            Told::Answered => {
                c.answered += 1;
                // A SYN-ACK after a refusal moves nothing out of `unanswered` twice.
                if before & REFUSED == 0 {
                    c.unanswered -= 1;
                }
            }
            Told::Refused => {
                c.refused += 1;
                c.unanswered -= 1;
            }
            Told::Established => c.established += 1,
            Told::SourceReset { .. } | Told::Repeat | Told::Nothing => {}
        }
        told
    }

    /// Every listener's counts of aggregated attempts, and those beyond [`MAX_LISTENERS`].
    pub(super) fn all_counts(
        &self,
    ) -> (
        &HashMap<Endpoint, AttemptCounts, foldhash::fast::RandomState>,
        AttemptCounts,
    ) {
        (&self.counts, self.other)
    }

    /// Aggregated attempts remembered now.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TcpFlags;

    const SYN_ACK: TcpFlags = TcpFlags(TcpFlags::SYN | TcpFlags::ACK);
    const RST: TcpFlags = TcpFlags(TcpFlags::RST);
    const ACK: TcpFlags = TcpFlags(TcpFlags::ACK);

    fn table(cap: usize) -> PendingAttempts {
        PendingAttempts::new(cap)
    }

    fn orig(i: u16) -> (IpAddr, u16) {
        ("192.0.2.1".parse().unwrap(), 1000 + i)
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_secs_nanos(s, 0)
    }

    #[test]
    fn retransmissions_and_repeated_answers_count_once() {
        let l = Endpoint::new("10.0.0.1".parse().unwrap(), 80);
        let mut t = table(16);
        assert!(t.syn(l, orig(0), SeqNum(100), at(0)));
        assert!(
            !t.syn(l, orig(0), SeqNum(100), at(1)),
            "same ISN: a retransmission"
        );
        assert!(t.syn(l, orig(1), SeqNum(200), at(1)));
        assert!(t.syn(l, orig(2), SeqNum(300), at(1)));
        let synack = (SeqNum(7), SeqNum(101), SYN_ACK);
        assert_eq!(t.segment(l, orig(0), true, synack), Told::Answered);
        assert_eq!(t.segment(l, orig(0), true, synack), Told::Repeat);
        let ack = (SeqNum(101), SeqNum(8), ACK);
        assert_eq!(t.segment(l, orig(0), false, ack), Told::Established);
        let rst = (SeqNum(0), SeqNum(0), RST);
        assert_eq!(t.segment(l, orig(1), true, rst), Told::Refused);
        // A SYN-ACK acknowledging something else is not an answer to this attempt.
        let stray = (SeqNum(9), SeqNum(5), SYN_ACK);
        assert_eq!(t.segment(l, orig(2), true, stray), Told::Nothing);
        let (counts, other) = t.all_counts();
        assert_eq!(
            counts[&l],
            AttemptCounts {
                attempts: 3,
                answered: 1,
                established: 1,
                refused: 1,
                unanswered: 1,
            }
        );
        assert_eq!(other, AttemptCounts::default());
    }

    #[test]
    fn a_source_reset_after_the_synack_is_backscatter() {
        let l = Endpoint::new("10.0.0.1".parse().unwrap(), 80);
        let mut t = table(16);
        t.syn(l, orig(0), SeqNum(100), at(0));
        t.segment(l, orig(0), true, (SeqNum(7), SeqNum(101), SYN_ACK));
        let rst = (SeqNum(101), SeqNum(0), RST);
        assert_eq!(
            t.segment(l, orig(0), false, rst),
            Told::SourceReset { after_synack: true }
        );
    }

    #[test]
    fn the_table_is_bounded_and_forgets_by_age_then_by_room() {
        let l = Endpoint::new("10.0.0.1".parse().unwrap(), 80);
        let mut t = table(4);
        for i in 0..4 {
            t.syn(l, orig(i), SeqNum(i as u32), at(0));
        }
        // Full: the oldest is forgotten early to make room.
        t.syn(l, orig(9), SeqNum(9), at(1));
        assert_eq!((t.len(), t.forgotten_early), (4, 1));
        // Past the lifetime, everything older goes without counting as early.
        t.syn(l, orig(10), SeqNum(10), at(200));
        assert_eq!((t.len(), t.forgotten_early), (1, 1));
        assert_eq!(t.all_counts().0[&l].attempts, 6, "counts stay");
    }

    #[test]
    fn a_new_isn_on_the_four_tuple_replaces_the_attempt() {
        let l = Endpoint::new("10.0.0.1".parse().unwrap(), 80);
        let mut t = table(3);
        assert!(t.syn(l, orig(0), SeqNum(100), at(0)));
        assert!(
            t.syn(l, orig(0), SeqNum(500), at(1)),
            "another ISN: a new attempt"
        );
        assert_eq!(t.len(), 1);
        assert!(!t.holds(l, orig(0), SeqNum(100)));
        assert!(t.holds(l, orig(0), SeqNum(500)));
        // Only the new attempt is answered by a SYN-ACK for its ISN.
        let old = (SeqNum(7), SeqNum(101), SYN_ACK);
        assert_eq!(t.segment(l, orig(0), true, old), Told::Nothing);
        // The replaced attempt leaving the front of the queue (room for two more) does not
        // take the new one with it, nor count as forgotten.
        t.syn(l, orig(1), SeqNum(1), at(2));
        t.syn(l, orig(2), SeqNum(2), at(2));
        assert_eq!((t.len(), t.forgotten_early), (3, 0));
        assert!(t.holds(l, orig(0), SeqNum(500)));
        let new = (SeqNum(7), SeqNum(501), SYN_ACK);
        assert_eq!(t.segment(l, orig(0), true, new), Told::Answered);
        // Thousands of attempts through a small table: only the newest stay findable.
        for i in 0..5000u16 {
            t.syn(l, orig(100 + i), SeqNum(u32::from(i)), at(3));
        }
        assert_eq!(t.len(), 3);
        assert!(t.holds(l, orig(5099), SeqNum(4999)));
        assert!(!t.holds(l, orig(100), SeqNum(0)));
    }
}

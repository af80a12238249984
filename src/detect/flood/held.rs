//! How many attempts a listener held in SYN-RECEIVED at once, as the kernel's request queue
//! counts them (`ss` state SYN-RECV): each attempt from its first SYN-ACK until the handshake
//! completed, was reset, or the listener visibly gave up (its last SYN-ACK plus the
//! retransmission timeout after it). SYNs the listener never answered were never held.
//!
//! A SYN-ACK sent from a SYN cookie is held by nobody, but looks the same when it is sent. What
//! tells them apart comes a second later: Linux retransmits a queued SYN-ACK after 1 s
//! (TCP_TIMEOUT_INIT); a cookie is never retransmitted. So every answered attempt counts as held
//! from its SYN-ACK at once, and one whose only SYN-ACK was not repeated by its deadline, while
//! the same listener did repeat SYN-ACKs meanwhile (or is known to send cookies), is taken back
//! out as a cookie. The count over time is kept as changes by time; the peak is read only from
//! times no judgment can still change.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use hashbrown::HashMap;

use crate::time::{Duration, Timestamp};

/// Linux's first SYN-ACK retransmission timeout (TCP_TIMEOUT_INIT, RFC 6298 (2.1)).
const FIRST_RTO: Duration = Duration::from_secs(1);
/// Timer slack allowed before an expected retransmission counts as missing.
const SLACK: Duration = Duration::from_millis(250);

/// One answered attempt still followed.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    /// Its first SYN-ACK.
    first: Timestamp,
    /// Its latest SYN-ACK copy.
    last: Timestamp,
    copies: u32,
    /// When the listener gives it up unless it completes first.
    end: Timestamp,
}

/// The attempts one listener holds, and their number over time.
#[derive(Clone, Debug)]
pub(super) struct Held {
    attempts: HashMap<u64, Attempt, foldhash::fast::RandomState>,
    /// The most attempts held at once: the table is charged for this many, not by its
    /// capacity, which after removals depends on the per-run seeded hasher (and would make
    /// the run's peak memory differ from run to run).
    most: usize,
    /// Attempts with a single SYN-ACK, by the time they are judged (cookie or held).
    judge: BinaryHeap<Reverse<(Timestamp, u64)>>,
    /// Changes of the count by time, with the frame of the SYN-ACK that raised it.
    changes: BTreeMap<Timestamp, (i32, u64)>,
    /// Changes before this time are applied to `level` and can no longer move.
    folded: Timestamp,
    /// The count at `folded`.
    level: i64,
    /// The latest SYN-ACK repeat the listener sent.
    last_repeat: Option<Timestamp>,
}

impl Default for Held {
    fn default() -> Self {
        Held {
            attempts: HashMap::default(),
            most: 0,
            judge: BinaryHeap::new(),
            changes: BTreeMap::new(),
            folded: Timestamp::MIN,
            level: 0,
            last_repeat: None,
        }
    }
}

impl Held {
    /// Bytes the held attempts take on the heap (B-tree entries at about twice their size).
    pub(super) fn heap_bytes(&self) -> usize {
        crate::wire::table_bytes(self.most, std::mem::size_of::<(u64, Attempt)>())
            + self.judge.capacity() * std::mem::size_of::<Reverse<(Timestamp, u64)>>()
            + self.changes.len() * 2 * std::mem::size_of::<(Timestamp, (i32, u64))>()
    }

    /// Attempts followed (answered, not yet judged, completed or given up).
    pub(super) fn followed(&self) -> usize {
        self.attempts.len()
    }

    /// Copy number `copies` of the SYN-ACK of attempt `id` was sent at `t` (frame `frame`).
    pub(super) fn synack(&mut self, id: u64, copies: u32, t: Timestamp, frame: u64) {
        if copies <= 1 {
            let end = t + FIRST_RTO + SLACK;
            self.attempts.insert(
                id,
                Attempt {
                    first: t,
                    last: t,
                    copies: 1,
                    end,
                },
            );
            self.most = self.most.max(self.attempts.len());
            self.change(t, 1, frame);
            self.change(end, -1, 0);
            self.judge.push(Reverse((end, id)));
            return;
        }
        self.last_repeat = Some(t);
        let Some(a) = self.attempts.get_mut(&id) else {
            return;
        };
        // The timeout doubles with each retransmission: the next one (or the give-up) is due
        // twice the last gap after this copy.
        let gap = t.since(a.last).max(FIRST_RTO.div(2));
        let (old_end, new_end) = (a.end, t + gap * 2 + SLACK);
        (a.last, a.copies, a.end) = (t, copies, new_end);
        self.change(old_end, 1, 0);
        self.change(new_end, -1, 0);
    }

    /// Attempt `id` completed or was reset at `t`: the listener holds it no more.
    pub(super) fn ended(&mut self, id: u64, t: Timestamp) {
        if let Some(a) = self.attempts.remove(&id)
            && t < a.end
        {
            self.change(a.end, 1, 0);
            self.change(t, -1, 0);
        }
    }

    /// Attempt `id`'s record ended without completion or reset: it stays held until its
    /// deadline (and is still judged, if it had a single SYN-ACK).
    pub(super) fn gone(&mut self, id: u64) {
        if self.attempts.get(&id).is_some_and(|a| a.copies > 1) {
            self.attempts.remove(&id);
        }
    }

    /// Judges the attempts whose single SYN-ACK was due for a repeat by `now`, then applies the
    /// changes no judgment can move any more, calling `at` with each new count and its time and
    /// frame. With `cookies`, the listener is known to answer with SYN cookies.
    pub(super) fn advance(
        &mut self,
        now: Timestamp,
        cookies: bool,
        mut at: impl FnMut(u32, Timestamp, u64),
    ) {
        while let Some(&Reverse((due, id))) = self.judge.peek() {
            if due > now {
                break;
            }
            self.judge.pop();
            let Some(a) = self.attempts.get(&id).copied() else {
                continue;
            };
            if a.copies > 1 {
                continue;
            }
            self.attempts.remove(&id);
            if cookies || self.last_repeat.is_some_and(|r| r >= a.first) {
                // A cookie: never held.
                self.change(a.first, -1, 0);
                self.change(a.end, 1, 0);
            }
        }
        // A judgment still due takes back changes from its attempt's first SYN-ACK on.
        let upto = self
            .judge
            .peek()
            .and_then(|Reverse((_, id))| self.attempts.get(id))
            .map_or(now, |a| a.first.min(now));
        while let Some(entry) = self.changes.first_entry() {
            if *entry.key() >= upto {
                break;
            }
            let (t, (d, frame)) = entry.remove_entry();
            self.level = self.level.saturating_add(i64::from(d));
            self.folded = t;
            at(self.level.max(0) as u32, t, frame);
        }
    }

    /// Adds `d` to the count from `t` on; a change before the folded times is applied to the
    /// level directly (it can only come from an attempt that was judged late).
    fn change(&mut self, t: Timestamp, d: i32, frame: u64) {
        if t <= self.folded {
            self.level = self.level.saturating_add(i64::from(d));
            return;
        }
        let e = self.changes.entry(t).or_insert((0, 0));
        e.0 = e.0.saturating_add(d);
        if d > 0 && frame != 0 {
            e.1 = frame;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn t(ns: i64) -> Timestamp {
        Timestamp::from_nanos(ns)
    }

    fn peak(h: &mut Held, now: i64, cookies: bool) -> u32 {
        let mut p = 0;
        h.advance(t(now), cookies, |lvl, _, _| p = p.max(lvl));
        p
    }

    #[test]
    fn a_queued_attempt_is_held_until_it_completes_or_is_given_up() {
        let mut h = Held::default();
        // Attempt 1: SYN-ACK at 0, 1 and 3 s, given up 4 s later. Attempt 2 completes at 0.5 s.
        h.synack(1, 1, t(0), 10);
        h.synack(2, 1, t(S / 10), 11);
        h.ended(2, t(S / 2));
        h.synack(1, 2, t(S), 12);
        h.synack(1, 3, t(3 * S), 13);
        h.gone(1);
        let mut levels = Vec::new();
        h.advance(t(20 * S), false, |lvl, at, _| levels.push((at, lvl)));
        assert_eq!(levels.iter().map(|l| l.1).max(), Some(2));
        // Held until 3 s + 2 × 2 s (+ slack).
        let last = levels.last().copied().unwrap();
        assert_eq!(last, (t(7 * S) + SLACK, 0));
    }

    #[test]
    fn unrepeated_synacks_while_others_are_repeated_are_cookies() {
        let mut h = Held::default();
        // Nine queued attempts (repeated at 1 s), then 200 cookie SYN-ACKs never repeated.
        for id in 0..9 {
            h.synack(id, 1, t(id as i64), 1);
        }
        for id in 9..209 {
            h.synack(id, 1, t(S / 100 + id as i64 * 1_000_000), 2);
        }
        for id in 0..9 {
            h.synack(id, 2, t(S + id as i64), 3);
        }
        assert_eq!(peak(&mut h, 10 * S, false), 9);
    }

    #[test]
    fn a_listener_that_never_repeats_holds_its_attempts_for_the_first_timeout() {
        let mut h = Held::default();
        for id in 0..5 {
            h.synack(id, 1, t(id as i64 * 1_000), 1);
        }
        assert_eq!(peak(&mut h, 10 * S, false), 5);
        let mut h = Held::default();
        for id in 0..5 {
            h.synack(id, 1, t(id as i64 * 1_000), 1);
        }
        assert_eq!(
            peak(&mut h, 10 * S, true),
            0,
            "known cookies are never held"
        );
    }

    #[test]
    fn nothing_is_read_before_it_is_judged() {
        let mut h = Held::default();
        h.synack(1, 1, t(0), 1);
        let mut seen = 0;
        h.advance(t(S / 2), false, |_, _, _| seen += 1);
        assert_eq!(
            seen, 0,
            "the first SYN-ACK may still turn out to be a cookie"
        );
    }
}

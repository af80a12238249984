//! The shards' outputs merged into capture order (see the parent module).

use std::collections::VecDeque;
use std::sync::mpsc;

use super::{Item, Output};
use crate::analyzer::{Joint, ShardId};
use crate::flow::FlowStats;
use crate::run::Emitter;
use crate::run::copied::{Copied, Spent};

/// Where a group stands in the merged order: its [`Place`] with the run's number of the
/// connection ending in it.
type Key = (u64, u8, i64, u64);

/// A shard's outputs waiting to be merged.
#[derive(Default)]
pub(super) struct Queue {
    outputs: VecDeque<Output>,
    /// The next group of the first output.
    next: usize,
    /// Where that group stands (none when nothing is waiting).
    front: Option<Key>,
    /// Every group still to come from the shard stands after this item.
    passed: u64,
    done: bool,
    stats: FlowStats,
}

/// The shards' outputs merged into capture order.
pub(super) struct Merge {
    pub(super) queues: Vec<Queue>,
    /// Where merged outputs go back to their shard.
    pub(super) spares: Vec<mpsc::Sender<Output>>,
}

impl Merge {
    /// Merges everything the shards hand out into `out`, counting the events written; false
    /// when it stopped early (an assumption found wrong, or the output failed).
    pub(super) fn run(
        &mut self,
        outputs: &mpsc::Receiver<(ShardId, Output)>,
        joint: &mut Joint,
        out: &mut Emitter<'_>,
        written: &mut u64,
    ) -> bool {
        loop {
            while let Some(k) = self.pick() {
                self.take(k, joint, out, written);
                if joint.wrong().is_some() || out.error.is_some() {
                    return false;
                }
                self.refresh(k, joint);
                if joint.wrong().is_some() {
                    return false;
                }
            }
            if self.queues.iter().all(|q| q.done && q.outputs.is_empty()) {
                return true;
            }
            let Ok((k, o)) = outputs.recv() else {
                return false;
            };
            let k = k as usize;
            let q = &mut self.queues[k];
            (q.passed, q.done, q.stats) = (o.passed, o.done, o.stats);
            q.outputs.push_back(o);
            if q.front.is_none() {
                self.refresh(k, joint);
            }
            joint.check_bounds(self.queues.iter().map(|q| &q.stats));
            if joint.wrong().is_some() {
                return false;
            }
        }
    }

    /// Notes where shard `k`'s next group stands (merged outputs go back to the shard). The
    /// connection ending in it opened in an earlier group of the shard, so it has its number.
    fn refresh(&mut self, k: usize, joint: &mut Joint) {
        let q = &mut self.queues[k];
        q.front = loop {
            let Some(o) = q.outputs.front() else {
                break None;
            };
            if let Some((p, _)) = o.groups.get(q.next) {
                let conn = if p.class == 1 {
                    0
                } else {
                    joint.id(k as ShardId, p.conn)
                };
                break Some((p.at, p.class, p.deadline, conn));
            }
            let o = q.outputs.pop_front().expect("an output");
            q.next = 0;
            let _ = self.spares[k].send(o);
        };
    }

    /// The shard whose next group comes next in capture order, once no shard can still hand
    /// out one before it.
    fn pick(&self) -> Option<usize> {
        let mut best: Option<(Key, usize)> = None;
        for (k, q) in self.queues.iter().enumerate() {
            if let Some(key) = q.front
                && best.is_none_or(|(b, _)| key < b)
            {
                best = Some((key, k));
            }
        }
        let ((at, ..), k) = best?;
        // A shard with nothing waiting may still hand out a group before this one unless it
        // has passed its place.
        let waiting = self
            .queues
            .iter()
            .any(|q| q.front.is_none() && !q.done && q.passed < at);
        (!waiting).then_some(k)
    }

    /// Writes shard `k`'s next group.
    fn take(&mut self, k: usize, joint: &mut Joint, out: &mut Emitter<'_>, written: &mut u64) {
        let q = &mut self.queues[k];
        let o = q.outputs.front_mut().expect("a group");
        let range = o.groups[q.next].1.clone();
        q.next += 1;
        let shard = k as ShardId;
        for item in &mut o.items[range] {
            match item {
                Item::Event(c) => {
                    match c {
                        Copied::Opened(o) => joint.opened(shard, o),
                        Copied::StateChanged(r, _) => joint.record(shard, r),
                        Copied::Closed(Spent::Here(c)) => joint.closed(shard, c.record_mut()),
                        Copied::Closed(Spent::Waiting(id)) => {
                            unreachable!("record {id} not handed over")
                        }
                        Copied::Anomaly(a) => joint.anomaly(shard, a),
                        Copied::App(_) => {}
                    }
                    // A number the merge could not give stops it before the event is written.
                    if joint.wrong().is_some() {
                        return;
                    }
                    c.emit(&mut |e| {
                        joint.count(&e);
                        out.event(e);
                        *written += 1;
                    });
                }
                Item::Call(call) => {
                    joint.call(shard, *call, &mut |e| {
                        out.event(e);
                        *written += 1;
                    });
                    if joint.wrong().is_some() {
                        return;
                    }
                }
            }
        }
        joint.end_group();
    }
}

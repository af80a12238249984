//! Replaying segments built in virtual time through a fresh table, for tests of the rules and
//! of what reads records.

use super::{FlowConfig, FlowTable};
use crate::detect::{Anomaly, AnomalyKind, DetectConfig, ListenerConfig};
use crate::event::{ConnRecord, Event};
use crate::wire::Segment;

/// Everything a replay handed out.
pub struct Replayed {
    /// Anomalies, in the order decided.
    pub anomalies: Vec<Anomaly>,
    /// Records, in the order they left the table.
    pub records: Vec<ConnRecord>,
}

/// Feeds `segs` to a table with default settings and `listeners`, then ends the run.
pub fn replay_with(segs: &[Segment<'_>], listeners: ListenerConfig) -> Replayed {
    replay_configured(segs, FlowConfig::default(), listeners)
}

/// Feeds `segs` to a table configured by `cfg` and `listeners`, then ends the run.
pub fn replay_configured(
    segs: &[Segment<'_>],
    cfg: FlowConfig,
    listeners: ListenerConfig,
) -> Replayed {
    let mut t = FlowTable::new(cfg, DetectConfig::default(), listeners);
    let mut r = Replayed {
        anomalies: Vec::new(),
        records: Vec::new(),
    };
    let mut keep = |e: Event<'_>| match e {
        Event::Anomaly(a) => r.anomalies.push(a.clone()),
        Event::Closed(c) => r.records.push(c.clone()),
        Event::Opened(_) | Event::StateChanged(..) | Event::Segment(..) | Event::App(_) => {}
    };
    for s in segs {
        t.process(s, &mut keep);
    }
    t.finish(&mut keep).expect("no stream sink, no error");
    r
}

/// Feeds `segs` to a table with default settings, then ends the run.
pub fn replay(segs: &[Segment<'_>]) -> Replayed {
    replay_with(segs, ListenerConfig::default())
}

/// The anomalies of kind `k`, in order.
pub fn of_kind(a: &[Anomaly], k: AnomalyKind) -> Vec<&Anomaly> {
    a.iter().filter(|a| a.kind == k).collect()
}

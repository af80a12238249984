//! The connection table's application layer: DNS, TLS and HTTP parsed from the connections'
//! streams (handed over by reassembly) and from UDP datagrams, the session rules run on them,
//! and the drain that hands anomalies and application records out in order.

use super::Connection;
use super::FlowTable;
use crate::detect::{Anomaly, AnomalyKind, Sessions};
use crate::event::Event;
use crate::proto::{AppConfig, AppLayer, AppRecord, AppStats};
use crate::wire::{Datagram, FlowKey};

/// The application layer of a table: the parsers, the session rules, and the records decided
/// but not yet handed out.
#[derive(Debug)]
pub(super) struct AppSide {
    pub(super) layer: AppLayer,
    sessions: Sessions,
    pub(super) out: Vec<AppRecord>,
    /// Anomalies the session rules raised, to count on their connections: (four-tuple,
    /// connection id, kind).
    pub(super) tallies: Vec<(FlowKey, u64, AnomalyKind)>,
}

impl AppSide {
    /// Moves the parsers' records out, running the session rules on the HTTP ones.
    pub(super) fn judge(&mut self, anomalies: &mut Vec<Anomaly>) {
        for r in self.layer.take() {
            if let AppRecord::Http(h) = &r {
                let from = anomalies.len();
                self.sessions.on_http(h, anomalies);
                let key = FlowKey::new(h.orig, h.resp);
                self.tallies
                    .extend(anomalies[from..].iter().map(|a| (key, h.conn_id, a.kind)));
            }
            self.out.push(r);
        }
    }

    /// The run ended: what the parsers held, then the sessions.
    pub(super) fn finish(&mut self, anomalies: &mut Vec<Anomaly>) {
        self.layer.finish();
        self.judge(anomalies);
        self.sessions.finish(&mut self.out);
    }
}

impl FlowTable {
    /// Parses the application layer (DNS, TLS, HTTP) of every connection, and of the UDP
    /// datagrams given to [`FlowTable::udp`].
    pub fn parse_app(&mut self, cfg: AppConfig) {
        self.app = Some(AppSide {
            layer: AppLayer::new(cfg),
            sessions: Sessions::default(),
            out: Vec::new(),
            tallies: Vec::new(),
        });
    }

    /// The application layer's counters, when it is parsed.
    pub fn app_stats(&self) -> Option<AppStats> {
        self.app.as_ref().map(|a| a.layer.stats())
    }

    /// A UDP datagram, for the application layer (DNS).
    pub fn udp(&mut self, d: &Datagram, payload: &[u8], out: &mut impl FnMut(Event<'_>)) {
        if d.ts > self.now {
            self.now = d.ts;
            self.expire(out);
        }
        if let Some(a) = self.app.as_mut() {
            a.layer.udp(d, payload);
        }
        self.flush_anomalies(out);
    }

    /// Adds the HTTP request under way to the anomalies that interrupt or stall a connection
    /// (a reset, a zero window, a peer that stopped answering).
    pub(super) fn annotate_app(&mut self) {
        let Some(app) = self.app.as_ref() else {
            return;
        };
        for a in &mut self.anomalies {
            if matches!(
                a.kind,
                AnomalyKind::RstAbort
                    | AnomalyKind::ZeroWindow
                    | AnomalyKind::KeepaliveTimeout
                    | AnomalyKind::CloseWaitStuck
            ) && let Some(r) = a.conn_id.and_then(|id| app.layer.in_flight(id))
            {
                a.detail.insert("http_request", r.into());
            }
        }
    }

    /// Counts the session rules' anomalies on their connections' tallies (`ending`: a
    /// connection already out of the table, ending now), so that they weigh as the rules' own.
    pub(super) fn tally_app(&mut self, mut ending: Option<&mut Connection>) {
        let rebuild = self.rebuild();
        let Some(app) = self.app.as_mut() else {
            return;
        };
        for (key, id, kind) in app.tallies.drain(..) {
            let c = match ending.as_deref_mut() {
                Some(c) if c.record().id == id => Some(c),
                _ => self
                    .map
                    .get(&key)
                    .map(|&i| self.conns.full(i, || rebuild))
                    .filter(|c| c.record().id == id),
            };
            if let Some(c) = c {
                c.record_mut().tally.count(kind);
            }
        }
    }

    /// Hands out the anomalies decided and the application layer's records.
    #[inline]
    pub(super) fn flush_anomalies(&mut self, out: &mut impl FnMut(Event<'_>)) {
        // Most segments decide nothing: no call then.
        if self.anything_pending() || self.app.is_some() {
            self.flush_ending(None, out);
        }
    }

    /// [`FlowTable::flush_anomalies`], with `ending` a connection out of the table but not yet
    /// handed out (the application layer's anomalies count on its tally).
    pub(super) fn flush_ending(
        &mut self,
        ending: Option<&mut Connection>,
        out: &mut impl FnMut(Event<'_>),
    ) {
        // Most segments decide nothing: skip setting up the drains. A connection ending now
        // had its anomalies annotated before its streams closed.
        if ending.is_none() && !self.anomalies.is_empty() {
            self.annotate_app();
        }
        if let Some(a) = self.app.as_mut().filter(|a| a.layer.has_records()) {
            a.judge(&mut self.anomalies);
            self.tally_app(ending);
        }
        if self.anything_pending() {
            self.hand_out_anomalies(out);
        }
        if let Some(a) = self.app.as_mut()
            && !a.out.is_empty()
        {
            for r in a.out.drain(..) {
                out(Event::App(&r));
            }
        }
    }
}

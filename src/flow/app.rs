//! The connection table's application layer: DNS, TLS and HTTP parsed from the connections'
//! streams (handed over by reassembly) and from UDP datagrams.

use super::FlowTable;
use crate::event::Event;
use crate::proto::{AppConfig, AppLayer, AppStats};
use crate::wire::Datagram;

impl FlowTable {
    /// Parses the application layer (DNS, TLS, HTTP) of every connection, and of the UDP
    /// datagrams given to [`FlowTable::udp`].
    pub fn parse_app(&mut self, cfg: AppConfig) {
        self.app = Some(AppLayer::new(cfg));
    }

    /// The application layer's counters, when it is parsed.
    pub fn app_stats(&self) -> Option<AppStats> {
        self.app.as_ref().map(AppLayer::stats)
    }

    /// A UDP datagram, for the application layer (DNS).
    pub fn udp(&mut self, d: &Datagram, payload: &[u8], out: &mut impl FnMut(Event<'_>)) {
        if d.ts > self.now {
            self.now = d.ts;
            self.expire(out);
        }
        if let Some(a) = self.app.as_mut() {
            a.udp(d, payload);
        }
        self.flush_anomalies(out);
    }
}

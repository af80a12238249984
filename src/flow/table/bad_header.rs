//! TCP headers with an impossible data offset, tied to the connection of their four-tuple.

use super::{FlowKey, FlowTable};
use crate::event::Event;
use crate::wire::{BadTcpHeader, Endpoint};

impl FlowTable {
    /// Ties a TCP header with an impossible data offset to the tracked connection of its
    /// four-tuple and reports it there (`bad_data_offset`); one of no tracked connection stays
    /// only in the decoder's skip count. It changes no state: the receiver drops such a segment
    /// (Linux counts it in TcpInErrs), so its flags and numbers are not believed.
    pub fn bad_header(&mut self, b: &BadTcpHeader, out: &mut impl FnMut(Event<'_>)) {
        if b.ts > self.now {
            self.now = b.ts;
            self.expire(out);
        }
        let src = Endpoint::new(b.src, b.sport);
        let key = FlowKey::new(src, Endpoint::new(b.dst, b.dport));
        let Some(&idx) = self.map.get(&key) else {
            return;
        };
        let rebuild = self.rebuild();
        let c = self.conns.full(idx, || rebuild);
        let side = c.view().side_of(src);
        c.bad_header(b, side, &self.detect, &mut self.anomalies);
        self.flush_anomalies(out);
    }
}

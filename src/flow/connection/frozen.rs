//! A connection encoded into a few bytes while it waits out its end, and decoded back.
//!
//! Once both ends have closed, a connection mostly waits: 2*MSL, in case a late segment or a
//! new incarnation of its four-tuple shows up. On ordinary traffic most of what the table holds
//! at any time is such connections (in a generated capture of 47,000 connections, 95% of those
//! tracked at its peak), each some 2.5 KiB in full, most of it zeros and small numbers. Encoded
//! by [`crate::base::pack`] (each number in its significant bytes, each time from the
//! connection's first segment, no field names), one takes about 1.1 KB (1.2 with Zeek's view);
//! the table keeps it so when memory is short (or beyond a number of connections tracked at
//! once), and decodes it when it is next needed (see `flow::table::slot`). The encoding is the
//! connection, field for field.

use super::Connection;
use crate::base::pack::{Pack, Reader, Writer};

impl Connection {
    /// Bytes its streams hold (out-of-order ranges, delivered bytes kept for overlap checks):
    /// a connection holding none is cheap to encode.
    pub(crate) fn held_bytes(&self) -> usize {
        self.streams.held_bytes()
    }

    /// The connection, encoded into `w` (a scratch writer, its room kept for the next one).
    pub(crate) fn encode<'w>(&self, w: &'w mut Writer) -> &'w [u8] {
        w.start(self.rec.first_ts.as_nanos());
        self.pack(w);
        w.bytes()
    }

    /// The connection [`Self::encode`] wrote into `bytes`.
    pub(crate) fn decode(bytes: &[u8]) -> Box<Connection> {
        let mut r = Reader::new(bytes);
        let c = Box::new(Connection::unpack(&mut r));
        debug_assert!(r.at_end(), "an encoded connection reads back whole");
        c
    }
}

crate::base::pack::pack_struct!(Connection {
    rec,
    machine,
    streams,
    ws,
    zeek,
    rules,
    attempt_open,
    timer_at,
    replayed,
    directions,
    capture_one_sided,
});

#[cfg(test)]
mod tests {
    use super::Connection;
    use crate::base::pack::Writer;
    use crate::detect::DetectConfig;
    use crate::testutil::c2s;

    /// What an encoding holds decodes into the same connection, Zeek's view included; the
    /// scratch writer's next encoding starts afresh.
    #[test]
    fn a_connection_reads_back_field_for_field() {
        let cfg = DetectConfig::default();
        let mut w = Writer::new();
        let other = Connection::new(9, &c2s(5, "S", 77, 0, 0), &cfg, false);
        other.encode(&mut w);
        let c = Connection::new(7, &c2s(1, "S", 1000, 0, 0), &cfg, true);
        let bytes = c.encode(&mut w).to_vec();
        let back = Connection::decode(&bytes);
        assert!(back.zeek.is_some());
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
    }
}

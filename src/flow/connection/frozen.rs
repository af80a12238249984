//! A connection encoded into a few bytes while it waits out its end, and decoded back.
//!
//! Once both ends have closed, a connection mostly waits: 2*MSL, in case a late segment or a
//! new incarnation of its four-tuple shows up. On ordinary traffic most of what the table holds
//! at any time is such connections (in a generated capture of 47,000 connections, 95% of those
//! tracked at its peak), each some 3 KiB in full, most of it zeros and small numbers. Encoded
//! with postcard (integers as variable-length numbers, no field names), one takes about
//! 1.3 KB; the table keeps it so, beyond a number of connections tracked at once, and decodes
//! it when it is next needed (see `flow::table::slot`). The encoding is the connection, field
//! for field, but for the run's settings it refers to, which are given back on decoding.

use super::Connection;
use crate::detect::DetectConfig;

impl Connection {
    /// Bytes its streams hold (out-of-order ranges, delivered bytes kept for overlap checks):
    /// a connection holding none is cheap to encode.
    pub(crate) fn held_bytes(&self) -> usize {
        self.streams.held_bytes()
    }

    /// Appends the connection, encoded, to `buf`, and gives `buf` back.
    pub(crate) fn encode(&self, buf: Vec<u8>) -> Vec<u8> {
        // Encoding fails only on a value the types cannot hold (a Zeek state name not in Zeek's
        // list): a defect, not an input.
        postcard::to_extend(self, buf).expect("a connection encodes")
    }

    /// The connection [`Self::encode`] wrote into `bytes`, with the run's settings it refers
    /// to taken from `detect`.
    pub(crate) fn decode(bytes: &[u8], detect: &DetectConfig) -> Box<Connection> {
        let mut c: Box<Connection> =
            Box::new(postcard::from_bytes(bytes).expect("an encoded connection decodes"));
        if let Some(z) = c.zeek.as_mut() {
            z.restore_server_ports(detect.zeek_server_ports);
        }
        c
    }
}

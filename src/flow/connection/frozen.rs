//! A connection encoded into a few bytes while it waits out its end, and decoded back.
//!
//! Once both ends have closed, a connection mostly waits: 2*MSL, in case a late segment or a
//! new incarnation of its four-tuple shows up. On ordinary traffic most of what the table holds
//! at any time is such connections (in a generated capture of 47,000 connections, 95% of those
//! tracked at its peak), each some 3 KiB in full, most of it zeros and small numbers. Encoded
//! with postcard (integers as variable-length numbers, no field names), one takes about
//! 1.2 KB (1.5 with Zeek's view); the table keeps it so when memory is short (or beyond a
//! number of connections tracked at once), and decodes it when it is next needed (see
//! `flow::table::slot`). The encoding is the connection, field for field, but for the run's
//! settings it refers to, which are given back on decoding.

use super::Connection;
use crate::detect::DetectConfig;

impl Connection {
    /// Bytes its streams hold (out-of-order ranges, delivered bytes kept for overlap checks):
    /// a connection holding none is cheap to encode.
    pub(crate) fn held_bytes(&self) -> usize {
        self.streams.held_bytes()
    }

    /// The connection, encoded into `buf` (a scratch buffer, grown as needed and kept for the
    /// next one: writing into a slice costs less than appending to a vector byte by byte).
    pub(crate) fn encode<'b>(&self, buf: &'b mut Vec<u8>) -> &'b [u8] {
        if buf.is_empty() {
            buf.resize(4096, 0);
        }
        let used = loop {
            match postcard::to_slice(self, buf) {
                Ok(used) => break used.len(),
                Err(postcard::Error::SerializeBufferFull) => buf.resize(2 * buf.len(), 0),
                // Anything else is a value the types cannot hold (a Zeek state name not in
                // Zeek's list): a defect, not an input.
                Err(e) => panic!("a connection does not encode: {e}"),
            }
        };
        &buf[..used]
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

#[cfg(test)]
mod tests {
    use super::Connection;
    use crate::detect::DetectConfig;
    use crate::testutil::c2s;

    /// A scratch buffer too small for a connection grows until it holds it, and what it holds
    /// decodes into the same connection, Zeek's view and its server ports included.
    #[test]
    fn an_encoding_outgrowing_its_buffer_is_written_whole() {
        let cfg = DetectConfig::default();
        let c = Connection::new(7, &c2s(1, "S", 1000, 0, 0), &cfg, true);
        let mut buf = vec![0; 8];
        let bytes = c.encode(&mut buf).to_vec();
        assert!(
            buf.len() >= bytes.len() && bytes.len() > 8,
            "{}",
            bytes.len()
        );
        // Field for field, Zeek's server ports (not encoded, given back) among them.
        let back = Connection::decode(&bytes, &cfg);
        assert!(back.zeek.is_some());
        assert_eq!(format!("{back:?}"), format!("{c:?}"));
    }
}

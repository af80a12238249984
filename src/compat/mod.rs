//! Emulations of other tools' views of a connection, kept apart from the reference machine in
//! [`crate::tcp`]: they reproduce what Zeek and Wireshark would print, quirks included, and are
//! checked frame by frame against those tools' own output (the corpus tests), not against RFC 9293.

pub mod wireshark;
mod zeek;

pub use zeek::{
    CONN_STATES as ZEEK_CONN_STATES, LIKELY_SERVER_PORTS, ZState, ZeekConn,
    pack_rows as pack_zeek_rows, unpack_rows as unpack_zeek_rows,
};

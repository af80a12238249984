//! Decoding captured frames into borrowed TCP [`Segment`] views.
//!
//! Link layers and tunnels are peeled by hand (`link`), IP and TCP headers are sliced with
//! etherparse's lax parser so snaplen-cut frames still yield headers, and TCP options go through a
//! tolerant walker (`options`). Lengths come from the IP header, never from the captured bytes.
//!
//! Panic-freedom contract: every function here accepts arbitrary bytes; a frame that cannot be
//! decoded becomes a counted [`SkipReason`], never a panic.

mod bad_header;
mod datagram;
mod decode;
mod endpoint;
mod frag;
mod icmp;
mod link;
mod link_type;
mod options;
mod packet;
mod segment;
mod seq;
mod stats;
mod table_bytes;
mod tcp_header;
mod tunnel;

pub use bad_header::BadTcpHeader;
pub use datagram::Datagram;
pub use decode::Decoder;
pub use endpoint::{Endpoint, FlowKey, PerSide, Side, ipv4_text};
pub use frag::{FragStats, MAX_PENDING as MAX_PENDING_FRAGMENTS};
pub use icmp::IcmpError;
pub use link_type::LinkType;
pub use options::{TcpOptions, Tfo};
pub use packet::{OwnedPacket, Packet};
pub use segment::{Segment, TcpFlags};
pub use seq::SeqNum;
pub use stats::{DecodeStats, SkipReason};
pub use table_bytes::{Room, give_back_room, table_bytes};
pub use tunnel::TunnelKind;

//! Endpoints, the canonical four-tuple key, and connection sides.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

/// An address and port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct Endpoint {
    /// IP address.
    pub addr: IpAddr,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint from its parts.
    pub const fn new(addr: IpAddr, port: u16) -> Self {
        Endpoint { addr, port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// A four-tuple with its two endpoints in canonical order, so both directions map to one key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct FlowKey {
    /// The lower endpoint.
    pub lo: Endpoint,
    /// The higher endpoint.
    pub hi: Endpoint,
}

impl FlowKey {
    /// The key of a segment from `src` to `dst`.
    #[inline]
    pub fn new(src: Endpoint, dst: Endpoint) -> Self {
        if src <= dst {
            FlowKey { lo: src, hi: dst }
        } else {
            FlowKey { lo: dst, hi: src }
        }
    }
}

/// Which end of a connection: the originator (the side that opened it) or the responder.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The originator (Zeek's `orig`).
    Orig,
    /// The responder (Zeek's `resp`).
    Resp,
}

impl Side {
    /// 0 for the originator, 1 for the responder.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The other side.
    #[inline]
    pub const fn other(self) -> Side {
        match self {
            Side::Orig => Side::Resp,
            Side::Resp => Side::Orig,
        }
    }

    /// `orig` or `resp`.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Orig => "orig",
            Side::Resp => "resp",
        }
    }
}

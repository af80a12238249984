//! Endpoints, the canonical four-tuple key, and connection sides.

use std::fmt;
use std::net::IpAddr;

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
        // Any order both directions agree on will do; comparing integers is cheaper than
        // `Endpoint`'s derived order (an enum, then octets one by one). The two ends of one
        // segment share an address family, so equal ranks are equal endpoints.
        let rank = |e: &Endpoint| {
            let a = match e.addr {
                IpAddr::V4(a) => u32::from(a) as u128,
                IpAddr::V6(a) => u128::from(a),
            };
            (a, e.port)
        };
        if rank(&src) <= rank(&dst) {
            FlowKey { lo: src, hi: dst }
        } else {
            FlowKey { lo: dst, hi: src }
        }
    }
}

/// Which end of a connection: the originator (the side that opened it) or the responder.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
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

/// One value per side of a connection, indexed by [`Side`]. Per-side state kept this way moves
/// with a role flip in one [`PerSide::swap`], so no field can be forgotten.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerSide<T>([T; 2]);

impl<T> PerSide<T> {
    /// The originator's and the responder's values.
    pub const fn new(orig: T, resp: T) -> Self {
        PerSide([orig, resp])
    }

    /// Exchanges the two sides' values (the roles were decided the other way round).
    pub fn swap(&mut self) {
        self.0.swap(0, 1);
    }

    /// Both values, the originator's first.
    pub fn iter(&self) -> impl Iterator<Item = (Side, &T)> {
        [Side::Orig, Side::Resp].into_iter().zip(self.0.iter())
    }

    /// Both values, mutably, the originator's first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Side, &mut T)> {
        [Side::Orig, Side::Resp].into_iter().zip(self.0.iter_mut())
    }

    /// A new pair from each side's value.
    pub fn map<U>(&self, mut f: impl FnMut(Side, &T) -> U) -> PerSide<U> {
        PerSide([f(Side::Orig, &self.0[0]), f(Side::Resp, &self.0[1])])
    }
}

impl<T: Clone> PerSide<T> {
    /// The same value on both sides.
    pub fn both(v: T) -> Self {
        PerSide([v.clone(), v])
    }
}

impl<T> std::ops::Index<Side> for PerSide<T> {
    type Output = T;
    #[inline]
    fn index(&self, side: Side) -> &T {
        &self.0[side.index()]
    }
}

impl<T> std::ops::IndexMut<Side> for PerSide<T> {
    #[inline]
    fn index_mut(&mut self, side: Side) -> &mut T {
        &mut self.0[side.index()]
    }
}

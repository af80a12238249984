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

crate::base::pack::pack_struct!(Endpoint { addr, port });

impl Endpoint {
    /// An endpoint from its parts.
    pub const fn new(addr: IpAddr, port: u16) -> Self {
        Endpoint { addr, port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            // Every output writes endpoints, most of them IPv4: digits into a buffer and one
            // write are several times cheaper than the formatting machinery per part.
            IpAddr::V4(a) => {
                let mut buf = [0u8; 21]; // "255.255.255.255:65535"
                let mut n = put_ipv4(&mut buf, a);
                buf[n] = b':';
                n += 1;
                n += put_decimal(&mut buf[n..], self.port);
                // Only ASCII digits, dots and a colon were written.
                f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)
            }
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// Writes `a` in dotted decimal at the start of `out` (room for 15 bytes) and returns the
/// length.
fn put_ipv4(out: &mut [u8], a: std::net::Ipv4Addr) -> usize {
    let mut n = 0;
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            out[n] = b'.';
            n += 1;
        }
        n += put_decimal(&mut out[n..], u16::from(o));
    }
    n
}

/// `a` in dotted decimal, written into `buf`: without the formatting machinery, which every
/// output would otherwise go through twice per record.
pub fn ipv4_text(a: std::net::Ipv4Addr, buf: &mut [u8; 15]) -> &str {
    let n = put_ipv4(buf, a);
    // Only ASCII digits and dots were written.
    std::str::from_utf8(&buf[..n]).unwrap_or_default()
}

/// Writes `v` in decimal at the start of `out` (room for 5 digits) and returns the length.
fn put_decimal(out: &mut [u8], v: u16) -> usize {
    let mut digits = [0u8; 5];
    let mut n = 0;
    let mut v = v;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..n {
        out[i] = digits[n - 1 - i];
    }
    n
}

/// A four-tuple with its two endpoints in canonical order, so both directions map to one key.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
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
        let rank = |e: &Endpoint| (addr_bits(e.addr), e.port);
        if rank(&src) <= rank(&dst) {
            FlowKey { lo: src, hi: dst }
        } else {
            FlowKey { lo: dst, hi: src }
        }
    }
}

/// An address's bits as one integer (IPv4 in the low 32 bits).
#[inline]
fn addr_bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// Hashed on every packet: the addresses and ports as two or three integers rather than field
/// by field through the `IpAddr` enums (an IPv4 pair and the ports fill one word each). Keys
/// of different families that share bits hash alike and are told apart by `Eq`.
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        match (self.lo.addr, self.hi.addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                h.write_u64(u64::from(u32::from(a)) << 32 | u64::from(u32::from(b)));
            }
            (a, b) => {
                h.write_u128(addr_bits(a));
                h.write_u128(addr_bits(b));
            }
        }
        h.write_u32(u32::from(self.lo.port) << 16 | u32::from(self.hi.port));
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

crate::base::pack::pack_enum!(Side { Orig, Resp });

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

impl<T: crate::base::pack::Pack> crate::base::pack::Pack for PerSide<T> {
    #[inline]
    fn pack(&self, w: &mut crate::base::pack::Writer) {
        self.0.pack(w);
    }
    #[inline]
    fn unpack(r: &mut crate::base::pack::Reader<'_>) -> Self {
        PerSide(<[T; 2]>::unpack(r))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn endpoints_print_as_the_standard_library_prints_their_parts() {
        for (a, p) in [
            ([0, 0, 0, 0], 0),
            ([255, 255, 255, 255], 65535),
            ([10, 0, 28, 65], 60527),
            ([192, 168, 1, 100], 8),
            ([1, 20, 100, 9], 10000),
        ] {
            let a = Ipv4Addr::from(a);
            let e = Endpoint::new(IpAddr::V4(a), p);
            assert_eq!(e.to_string(), format!("{a}:{p}"));
        }
        let v6 = Endpoint::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 443);
        assert_eq!(v6.to_string(), "[::1]:443");
    }
}

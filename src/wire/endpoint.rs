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
///
/// Built and hashed for every segment, and compared with the keys of its hash bucket, so it is
/// held as plain words rather than as two [`Endpoint`]s (an `IpAddr` enum each, its bytes at odd
/// offsets): an IPv4 pair fills the first word, an IPv6 pair all four, the ports one more. The
/// endpoints are given back by [`FlowKey::lo`] and [`FlowKey::hi`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    /// IPv4: the lower endpoint's address in the high half of the first word, the higher's in
    /// the low half, the rest zero. Otherwise: the lower endpoint's 128 bits in the first two
    /// words (high word first), the higher's in the last two (an IPv4 address of a mixed pair
    /// as its 32 bits).
    addrs: [u64; 4],
    /// The lower endpoint's port in the high half, the higher's in the low half.
    ports: u32,
    /// Which addresses are IPv6: 1 for the lower endpoint's, 2 for the higher's.
    v6: u8,
}

impl FlowKey {
    /// The key of a segment from `src` to `dst`.
    #[inline]
    pub fn new(src: Endpoint, dst: Endpoint) -> Self {
        // Any order both directions agree on will do; comparing integers is cheaper than
        // `Endpoint`'s derived order (an enum, then octets one by one). The two ends of one
        // segment share an address family, so equal ranks are equal endpoints.
        if let (IpAddr::V4(a), IpAddr::V4(b)) = (src.addr, dst.addr) {
            let (a, b) = (u32::from(a), u32::from(b));
            let ((lo, lp), (hi, hp)) = if (a, src.port) <= (b, dst.port) {
                ((a, src.port), (b, dst.port))
            } else {
                ((b, dst.port), (a, src.port))
            };
            return FlowKey {
                addrs: [u64::from(lo) << 32 | u64::from(hi), 0, 0, 0],
                ports: u32::from(lp) << 16 | u32::from(hp),
                v6: 0,
            };
        }
        // Each end's rank (its address's bits, its port) and family, the bits taken once.
        let rank = |e: &Endpoint| (addr_bits(e.addr), e.port, e.addr.is_ipv6());
        let (s, d) = (rank(&src), rank(&dst));
        let ((l, lp, l6), (h, hp, h6)) = if (s.0, s.1) <= (d.0, d.1) {
            (s, d)
        } else {
            (d, s)
        };
        FlowKey {
            addrs: [(l >> 64) as u64, l as u64, (h >> 64) as u64, h as u64],
            ports: u32::from(lp) << 16 | u32::from(hp),
            v6: u8::from(l6) | u8::from(h6) << 1,
        }
    }

    /// The lower endpoint.
    pub fn lo(&self) -> Endpoint {
        self.end(0)
    }

    /// The higher endpoint.
    pub fn hi(&self) -> Endpoint {
        self.end(1)
    }

    /// Endpoint `i`: 0 the lower, 1 the higher. The lower one's halves of the IPv4 word and of
    /// the ports are the high ones; its IPv6 words the first two.
    fn end(&self, i: usize) -> Endpoint {
        let shift = 1 - i;
        let addr = if self.v6 == 0 {
            IpAddr::V4(((self.addrs[0] >> (32 * shift)) as u32).into())
        } else {
            bits_addr(
                self.addrs[2 * i],
                self.addrs[2 * i + 1],
                self.v6 & (1 << i) != 0,
            )
        };
        Endpoint::new(addr, (self.ports >> (16 * shift)) as u16)
    }
}

impl fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlowKey")
            .field("lo", &self.lo())
            .field("hi", &self.hi())
            .finish()
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

/// The address whose bits [`addr_bits`] gave as two words, high first.
fn bits_addr(high: u64, low: u64, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6((u128::from(high) << 64 | u128::from(low)).into())
    } else {
        IpAddr::V4((low as u32).into())
    }
}

/// Hashed on every packet: an IPv4 key as two words (its addresses, its ports), any other as
/// five. Keys of different families that share bits hash alike and are told apart by `Eq`.
impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        if self.v6 == 0 {
            h.write_u64(self.addrs[0]);
        } else {
            for w in self.addrs {
                h.write_u64(w);
            }
        }
        h.write_u32(self.ports);
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

    /// Both directions of a four-tuple give one key, which gives back its endpoints, lower
    /// first; any other four-tuple gives another key (a port moved, the other family, an
    /// IPv4 address beside its IPv4-mapped IPv6 form).
    #[test]
    fn a_four_tuple_has_one_key_and_gives_back_its_endpoints() {
        let v4 = |a: [u8; 4], p| Endpoint::new(IpAddr::V4(Ipv4Addr::from(a)), p);
        let v6 = |a: u128, p| Endpoint::new(IpAddr::V6(Ipv6Addr::from(a)), p);
        let mapped =
            |a: [u8; 4], p| Endpoint::new(IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped()), p);
        let pairs = [
            (v4([10, 0, 0, 2], 443), v4([10, 0, 0, 1], 50000)),
            (v4([10, 0, 0, 1], 80), v4([10, 0, 0, 1], 81)),
            (v4([10, 0, 0, 1], 81), v4([10, 0, 0, 1], 80)),
            (v4([192, 168, 0, 1], 80), v4([10, 0, 0, 1], 80)),
            (v6(1 << 100 | 7, 443), v6(3, 1024)),
            (v6(5, 443), v6(5 << 64, 443)),
            (mapped([10, 0, 0, 2], 443), mapped([10, 0, 0, 1], 50000)),
            (v4([10, 0, 0, 2], 443), v6(7, 50000)),
            (v6(7, 50000), v4([10, 0, 0, 2], 443)),
        ];
        let mut keys = Vec::new();
        for (a, b) in pairs {
            let key = FlowKey::new(a, b);
            assert_eq!(key, FlowKey::new(b, a), "{a} {b}");
            let (lo, hi) = (key.lo(), key.hi());
            assert!(lo == a && hi == b || lo == b && hi == a, "{a} {b}: {key:?}");
            assert_eq!(FlowKey::new(lo, hi), key);
            keys.push(key);
        }
        // Pairs 1 and 2 are one four-tuple, as are 7 and 8; all the others differ.
        for (i, k) in keys.iter().enumerate() {
            for (j, l) in keys.iter().enumerate().skip(i + 1) {
                let same = (i, j) == (1, 2) || (i, j) == (7, 8);
                assert_eq!(k == l, same, "{k:?} {l:?}");
            }
        }
    }

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

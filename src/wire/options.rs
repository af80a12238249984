//! A tolerant TCP option walker: unknown kinds are skipped by their length byte and kept, so an
//! MPTCP or experimental option never hides the MSS or timestamps that follow it.

use super::SeqNum;

/// How many unknown options are kept per segment (the rest are only counted).
pub const MAX_UNKNOWN: usize = 4;

/// TCP Fast Open option (RFC 7413 kind 34, or experimental kind 254 with ExID 0xF989).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tfo {
    /// Cookie length in bytes; 0 is a cookie request.
    pub cookie_len: u8,
    /// Carried in the experimental option 254 rather than kind 34.
    pub experimental: bool,
}

crate::base::pack::pack_struct!(Tfo {
    cookie_len,
    experimental,
});

/// Every option of one segment, parsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2).
    pub mss: Option<u16>,
    /// Window scale shift (kind 3), as sent (values above 14 are kept; RFC 7323 clamps them).
    pub wscale: Option<u8>,
    /// SACK permitted (kind 4).
    pub sack_permitted: bool,
    /// SACK blocks (kind 5): left and right edges.
    pub sack: [(SeqNum, SeqNum); 4],
    /// Number of valid entries in `sack`.
    pub sack_count: u8,
    /// Timestamps (kind 8): TSval, TSecr.
    pub timestamps: Option<(u32, u32)>,
    /// TCP Fast Open.
    pub tfo: Option<Tfo>,
    /// Unknown options as (kind, total length).
    pub unknown: [(u8, u8); MAX_UNKNOWN],
    /// Number of unknown options seen (may exceed `MAX_UNKNOWN`).
    pub unknown_count: u8,
    /// An option had an impossible length, or a known option the wrong length.
    pub malformed: bool,
}

impl TcpOptions {
    /// Parses the option bytes of a TCP header (the bytes after the fixed 20).
    pub fn parse(mut b: &[u8]) -> TcpOptions {
        let mut o = TcpOptions::default();
        while let Some(&kind) = b.first() {
            match kind {
                0 => break,
                1 => {
                    b = &b[1..];
                    continue;
                }
                _ => {}
            }
            let Some(&len) = b.get(1) else {
                o.malformed = true;
                break;
            };
            let len = len as usize;
            if len < 2 || len > b.len() {
                o.malformed = true;
                break;
            }
            let body = &b[2..len];
            match (kind, len) {
                (2, 4) => o.mss = Some(u16::from_be_bytes([body[0], body[1]])),
                (3, 3) => o.wscale = Some(body[0]),
                (4, 2) => o.sack_permitted = true,
                (5, l) if l >= 10 && (l - 2) % 8 == 0 => {
                    for chunk in body.chunks_exact(8).take(4) {
                        let l = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                        let r = u32::from_be_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
                        o.sack[o.sack_count as usize] = (SeqNum(l), SeqNum(r));
                        o.sack_count += 1;
                    }
                }
                (8, 10) => {
                    let v = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                    let e = u32::from_be_bytes([body[4], body[5], body[6], body[7]]);
                    o.timestamps = Some((v, e));
                }
                (34, l) if l <= 18 => {
                    o.tfo = Some(Tfo {
                        cookie_len: (l - 2) as u8,
                        experimental: false,
                    })
                }
                (254, l) if l >= 4 && body[0] == 0xF9 && body[1] == 0x89 => {
                    o.tfo = Some(Tfo {
                        cookie_len: (l - 4) as u8,
                        experimental: true,
                    })
                }
                (2 | 3 | 4 | 5 | 8 | 34, _) => o.malformed = true,
                _ => {
                    if (o.unknown_count as usize) < MAX_UNKNOWN {
                        o.unknown[o.unknown_count as usize] = (kind, len as u8);
                    }
                    o.unknown_count = o.unknown_count.saturating_add(1);
                }
            }
            b = &b[len..];
        }
        o
    }

    /// The SACK blocks present.
    pub fn sack_blocks(&self) -> &[(SeqNum, SeqNum)] {
        &self.sack[..self.sack_count as usize]
    }

    /// The unknown options kept, as (kind, length).
    pub fn unknown_options(&self) -> &[(u8, u8)] {
        &self.unknown[..(self.unknown_count as usize).min(MAX_UNKNOWN)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_syn_options() {
        // MSS 1460, SACK-permitted, TS, NOP, WS 7
        let b = [
            2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let o = TcpOptions::parse(&b);
        assert_eq!(o.mss, Some(1460));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((1, 0)));
        assert_eq!(o.wscale, Some(7));
        assert!(!o.malformed);
    }

    #[test]
    fn unknown_kind_does_not_hide_later_options() {
        // MPTCP (30) of length 12, then MSS
        let mut b = vec![30, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&[2, 4, 0x05, 0xb4, 34, 2]);
        let o = TcpOptions::parse(&b);
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.unknown_options(), &[(30, 12)]);
        assert_eq!(
            o.tfo,
            Some(Tfo {
                cookie_len: 0,
                experimental: false
            })
        );
    }

    #[test]
    fn bad_lengths_are_flagged_not_fatal() {
        assert!(TcpOptions::parse(&[2, 1]).malformed);
        assert!(TcpOptions::parse(&[8, 40, 0]).malformed);
        assert!(TcpOptions::parse(&[2, 3, 0]).malformed);
        assert!(TcpOptions::parse(&[5]).malformed);
        let sack = [5, 10, 0, 0, 0, 1, 0, 0, 0, 9];
        let o = TcpOptions::parse(&sack);
        assert_eq!(o.sack_blocks(), &[(SeqNum(1), SeqNum(9))]);
    }
}

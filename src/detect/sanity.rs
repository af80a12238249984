//! Header sanity rules: TTL changes within a direction, and RSTs that do not look like they came
//! from the peer's stack.

use super::judge::Judge;
use super::view::Step;
use super::{Anomaly, AnomalyKind};
use crate::tcp::{RstFit, SegClass};
use crate::time::Timestamp;
use crate::wire::{IcmpError, PerSide, Side, TcpFlags};

/// IPv4 IDs further than this from the direction's last ID do not fit a counter (Linux and
/// Windows increment per connection or per destination).
const IP_ID_JUMP: u16 = 2048;

/// How one direction numbers its IPv4 IDs, learnt from its segments other than RSTs.
///
/// Stacks differ (RFC 6864 §4; Linux `ip_select_ident_segs`, `ip_build_and_send_pkt`): Linux
/// keeps a per-socket counter starting at a random value for DF segments of a connected socket
/// and writes 0 for DF segments sent without one (SYN-ACKs from a request socket, RSTs from
/// the per-CPU control socket after the connection is gone); Windows increments a counter per
/// destination; OpenBSD and many middleboxes pick IDs at random. Only a direction that
/// follows one counter makes an RST's ID evidence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IpIdModel {
    /// Fewer than three non-zero IDs (or IPv6): nothing to judge by.
    #[default]
    Unknown,
    /// Every ID is 0.
    Zero,
    /// The same non-zero ID every time.
    Constant,
    /// Consecutive IDs within `IP_ID_JUMP` of each other: one counter.
    Counter,
    /// Consecutive IDs jump: random IDs, or a counter shared by a busy host.
    Random,
}

impl IpIdModel {
    /// The name the anomaly detail gives.
    pub const fn name(self) -> &'static str {
        match self {
            IpIdModel::Unknown => "unknown",
            IpIdModel::Zero => "zero",
            IpIdModel::Constant => "constant",
            IpIdModel::Counter => "counter",
            IpIdModel::Random => "random",
        }
    }
}

/// What one direction's IPv4 IDs looked like so far.
#[derive(Clone, Copy, Debug, Default)]
struct IpIds {
    /// The last non-zero ID.
    last: Option<u16>,
    /// IDs equal to 0.
    zeros: u32,
    /// Consecutive non-zero IDs that were equal.
    same: u32,
    /// Consecutive non-zero IDs within [`IP_ID_JUMP`] of each other (either way: reordering).
    steps: u32,
    /// Consecutive non-zero IDs further apart.
    jumps: u32,
}

crate::base::pack::pack_struct!(IpIds {
    last,
    zeros,
    same,
    steps,
    jumps,
});

/// Whether `id` lies further than [`IP_ID_JUMP`] from `last`, either way.
fn jumped(id: u16, last: u16) -> bool {
    let d = id.wrapping_sub(last);
    d > IP_ID_JUMP && d < u16::MAX - IP_ID_JUMP
}

impl IpIds {
    /// Accounts one ordinary (non-RST) segment's ID.
    fn observe(&mut self, id: u16) {
        if id == 0 {
            self.zeros += 1;
            return;
        }
        if let Some(last) = self.last {
            if id == last {
                self.same += 1;
            } else if jumped(id, last) {
                self.jumps += 1;
            } else {
                self.steps += 1;
            }
        }
        self.last = Some(id);
    }

    /// The direction's numbering so far.
    fn model(&self) -> IpIdModel {
        if self.last.is_none() {
            if self.zeros >= 2 {
                IpIdModel::Zero
            } else {
                IpIdModel::Unknown
            }
        } else if self.jumps > 0 {
            IpIdModel::Random
        } else if self.steps >= 2 {
            IpIdModel::Counter
        } else if self.same >= 2 && self.steps == 0 {
            IpIdModel::Constant
        } else {
            IpIdModel::Unknown
        }
    }
}

/// A RST the receiver accepted: who sent it, in which frame.
#[derive(Clone, Copy, Debug)]
struct AcceptedRst {
    from: Side,
    frame: u64,
}

crate::base::pack::pack_struct!(AcceptedRst { from, frame });

/// A RST a direction sent before any other segment, judged once its TTL is known.
#[derive(Clone, Copy, Debug)]
struct EarlyRst {
    frame: u64,
    ts: Timestamp,
    ttl: u8,
    flags: TcpFlags,
}

crate::base::pack::pack_struct!(EarlyRst {
    frame,
    ts,
    ttl,
    flags,
});

/// The header-sanity family's state on one connection.
#[derive(Clone, Debug, Default)]
pub struct SanityRules {
    /// Each direction's TTL: that of its first segment other than a RST (an injected RST may
    /// come first: the Great Firewall's arrives before the server's SYN-ACK).
    ttl: PerSide<Option<u8>>,
    /// A RST a direction sent before its first other segment (boxed: few connections have one).
    early_rst: PerSide<Option<Box<EarlyRst>>>,
    /// Each direction's IPv4 IDs.
    ip_ids: PerSide<IpIds>,
    /// The first accepted RST.
    accepted_rst: Option<AcceptedRst>,
}

crate::base::pack::pack_struct!(SanityRules {
    ttl,
    early_rst,
    ip_ids,
    accepted_rst,
});

impl SanityRules {
    /// The roles were flipped.
    pub fn swap_sides(&mut self) {
        self.ttl.swap();
        self.early_rst.swap();
        self.ip_ids.swap();
        if let Some(r) = &mut self.accepted_rst {
            r.from = r.from.other();
        }
    }

    /// Rules evaluated on each segment, after the state machine applied it.
    #[inline]
    pub fn on_segment(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side, facts) = (st.seg, st.side, st.facts);
        let is_rst = facts.class == SegClass::Rst;
        let base = match self.ttl[side] {
            Some(b) => b,
            None if !is_rst => {
                self.ttl[side] = Some(seg.ttl);
                if let Some(rst) = self.early_rst[side].take() {
                    early_rst(j, side, *rst, seg.ttl);
                }
                seg.ttl
            }
            None => {
                self.early_rst[side].get_or_insert_with(|| {
                    Box::new(EarlyRst {
                        frame: seg.frame,
                        ts: seg.ts,
                        ttl: seg.ttl,
                        flags: seg.flags,
                    })
                });
                seg.ttl
            }
        };
        // Backscatter of a spoofed SYN: the initiator sent nothing but SYNs, and now a RST, on
        // a connection that never completed. The SYNs came from whoever spoofed the address,
        // the RST from its real owner answering a SYN-ACK it never asked for: their TTLs
        // differ because two hosts sent them, which is no anomaly of this connection (the
        // flood detail counts these RSTs as source_resets).
        let h = c.half(side);
        let backscatter = is_rst
            && side == Side::Orig
            && !c.established
            && h.syns > 0
            && h.packets == h.syns as u64 + 1;
        let ttl_off = seg.ttl.abs_diff(base) > j.cfg.ttl_tolerance && !backscatter;
        let ids = self.ip_ids[side];
        // The sender had closed its side before this RST: its socket may be gone (Linux
        // answers from a TIME-WAIT or control socket, tcp_v4_send_reset, with an ID of its
        // own), so the ID proves nothing there.
        let after_own_fin = c.half(side).fins > u32::from(seg.flags.fin());
        let id_off = match (seg.ip_id, ids.last) {
            (Some(id), Some(last)) => {
                is_rst
                    && ids.model() == IpIdModel::Counter
                    && !after_own_fin
                    && id != 0
                    && jumped(id, last)
            }
            _ => false,
        };

        // ttl_anomaly: a segment's TTL/hop limit differs from its direction's first one by
        // more than --ttl-tolerance (a route change, a middlebox, or a forged segment). A
        // forged RST raises it too, so that a search for TTL anomalies finds it.
        if ttl_off {
            let k = AnomalyKind::TtlAnomaly;
            j.raise(k, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("ttl", seg.ttl)
                    .with("expected_ttl", base)
                    .with("flags", seg.flags.to_string())
            });
        }
        if is_rst && (ttl_off || id_off) && c.half(side).packets > 1 {
            // rst_injection_suspected: the RST's TTL, or its IP ID where the sender numbers
            // its segments with one counter, does not fit the sender's other segments, as
            // with middlebox resets (Suricata `suspected_rst_inject` is the related
            // after-the-fact rule).
            let k = AnomalyKind::RstInjectionSuspected;
            j.raise(k, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("ttl", seg.ttl)
                    .with("expected_ttl", base)
                    .with("ip_id", seg.ip_id)
                    .with("last_ip_id", ids.last)
                    .with("ip_id_model", ids.model().name())
                    .with("after_own_fin", after_own_fin)
                    .with("evidence", if ttl_off { "ttl" } else { "ip_id" })
            });
        }
        if let Some(id) = seg.ip_id
            && !is_rst
        {
            self.ip_ids[side].observe(id);
        }

        if facts.class == SegClass::Rst {
            let fit = facts.rst_fit.unwrap_or(RstFit::Unknown);
            if fit != RstFit::OutOfWindow && self.accepted_rst.is_none() {
                self.accepted_rst = Some(AcceptedRst {
                    from: side,
                    frame: seg.frame,
                });
            }
        }

        // rst_injection_suspected, after the fact: the side whose RST was accepted keeps
        // sending as if nothing happened, so the RST did not come from its stack.
        if let Some(rst) = self.accepted_rst
            && rst.from == side
            && facts.class != SegClass::Rst
            && seg.payload_len > 0
        {
            let k = AnomalyKind::RstInjectionSuspected;
            j.raise(k, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("rst_frame", rst.frame)
                    .with("evidence", "traffic_after_rst")
            });
        }
    }
}

/// A RST that came before its sender's first other segment, judged by that segment's TTL: a
/// TTL off raises `ttl_anomaly` and `rst_injection_suspected` for the RST's frame (Zeek's
/// `rst-inject-rae` trace: an injected RST+ACK, TTL 46, ahead of the server's SYN-ACK, TTL 49).
fn early_rst(j: &mut Judge<'_>, side: Side, rst: EarlyRst, base: u8) {
    if rst.ttl.abs_diff(base) <= j.cfg.ttl_tolerance {
        return;
    }
    for k in [AnomalyKind::TtlAnomaly, AnomalyKind::RstInjectionSuspected] {
        j.raise(k, || {
            let a = Anomaly::new(k, rst.frame, rst.ts)
                .with("from", side.name())
                .with("ttl", rst.ttl)
                .with("expected_ttl", base);
            if k == AnomalyKind::RstInjectionSuspected {
                a.with("evidence", "ttl").with("before_first_segment", true)
            } else {
                a.with("flags", rst.flags.to_string())
            }
        });
    }
}

/// icmp_error: a router or host answered a segment of this connection with an ICMP error
/// (time exceeded, destination unreachable, fragmentation needed, packet too big: RFC 792,
/// RFC 4443). The quoted segment's four-tuple and sequence number link it to the connection
/// (RFC 5927 §4.1). An attempt answered this way was answered, by the network: it is not left
/// for the listener rules to call unanswered.
pub fn icmp_error(j: &mut Judge<'_>, e: &IcmpError, about: Side) {
    let k = AnomalyKind::IcmpError;
    j.raise(k, || {
        let mut a = Anomaly::new(k, e.frame, e.ts)
            .with("name", e.name())
            .with("icmp_type", e.icmp_type)
            .with("code", e.code)
            .with("version", if e.v6 { "icmpv6" } else { "icmp" })
            .with("router", e.reporter.to_string())
            .with("about", about.name())
            .with("quoted_seq", e.seq.0);
        if let Some(f) = e.flags {
            a = a.with("quoted_flags", f.to_string());
        }
        if let Some(mtu) = e.mtu {
            a = a.with("mtu", mtu);
        }
        a
    });
}

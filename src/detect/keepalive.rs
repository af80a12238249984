//! Rules on an established connection's idle probes: keep-alives, Linux zero-window probes and
//! their answers, and keep-alive timeouts.

use super::anomaly::secs;
use super::judge::Judge;
use super::view::Step;
use super::{Anomaly, AnomalyKind};
use crate::tcp::SegClass;
use crate::time::{Duration, Timestamp};
use crate::wire::{PerSide, Side};

/// The keep-alive family's state on one connection.
#[derive(Clone, Debug, Default)]
pub struct KeepaliveRules {
    /// Each side's last segment was a Linux zero-window probe awaiting its answer.
    zwp_pending: PerSide<bool>,
    /// The keep-alive probes seen, from the first on (boxed: most connections send none).
    probes: Option<Box<Probes>>,
}

crate::base::pack::pack_struct!(KeepaliveRules {
    zwp_pending,
    probes,
});

/// Each side's keep-alive probes.
#[derive(Clone, Debug, Default)]
struct Probes {
    /// Probes per side left unanswered so far.
    unanswered: PerSide<u32>,
    /// Each side's first unanswered probe.
    first: PerSide<Option<(u64, Timestamp)>>,
    /// Probes each side sent.
    sent: PerSide<u32>,
    /// Time of each side's last probe.
    last: PerSide<Option<Timestamp>>,
    /// Time between each side's last two probes.
    interval: PerSide<Option<Duration>>,
}

crate::base::pack::pack_struct!(Probes {
    unanswered,
    first,
    sent,
    last,
    interval,
});

impl Probes {
    fn swap(&mut self) {
        self.unanswered.swap();
        self.first.swap();
        self.sent.swap();
        self.last.swap();
        self.interval.swap();
    }
}

impl KeepaliveRules {
    /// The roles were flipped.
    pub fn swap_sides(&mut self) {
        self.zwp_pending.swap();
        if let Some(p) = &mut self.probes {
            p.swap();
        }
    }

    /// Rules evaluated on each segment, after the state machine applied it.
    #[inline]
    pub fn on_segment(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side, facts) = (st.seg, st.side, st.facts);
        let peer = side.other();
        // Anything from the peer answers this side's outstanding probes.
        if let Some(p) = &mut self.probes {
            p.unanswered[peer] = 0;
            p.first[peer] = None;
        }

        // keepalive: RFC 9293 §3.8.4 (RFC 1122 4.2.3.6): SEG.SEQ = SND.NXT - 1 with no data or
        // one garbage octet, no SYN/FIN/RST, on a synchronized connection. A zero-length probe
        // while the peer advertises a zero window is a zero-window probe (Linux sends those the
        // same way).
        let is_probe = matches!(facts.class, SegClass::Ack)
            && seg.payload_len <= 1
            && facts.sender_before.is_synchronized()
            && facts.snd_nxt_before.is_some_and(|n| seg.seq.add(1) == n)
            && c.machine.end(peer).window > 0;
        if is_probe {
            let p = self.probes.get_or_insert_default();
            p.sent[side] += 1;
            if let Some(prev) = p.last[side].replace(seg.ts) {
                p.interval[side] = Some(seg.ts.since(prev));
            }
            p.unanswered[side] += 1;
            p.first[side].get_or_insert((seg.frame, seg.ts));
            let k = AnomalyKind::Keepalive;
            j.raise(k, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("from", side.name())
                    .with("probe_bytes", seg.payload_len)
                    .with("idle", secs(seg.ts.since(c.last_seen[side])))
            });
        }
        self.zero_window_probes(j, st);
        // keepalive_timeout: the prober gives up (RST) after unanswered probes (Linux: after
        // tcp_keepalive_probes = 9 probes tcp_keepalive_intvl = 75 s apart).
        if facts.class == SegClass::Rst && self.unanswered(side) > 0 {
            self.timeout(j, side, "rst");
        }
    }

    /// Linux's zero-window probe: no payload, SEG.SEQ = SND.UNA - 1, while the peer advertises
    /// a zero window (tcp_xmit_probe_skb). Wireshark calls it a keep-alive, its own zero-window
    /// probe being one byte at SND.NXT (flagged by the Wireshark classes). The peer's next pure
    /// ACK answers it.
    #[inline]
    fn zero_window_probes(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let (seg, side, facts) = (st.seg, st.side, st.facts);
        let pure_ack = matches!(facts.class, SegClass::Ack) && seg.payload_len == 0;
        // Most segments, and inline: neither an answer nor a probe, and no answer awaited now.
        if !pure_ack {
            self.zwp_pending[side.other()] = false;
            return;
        }
        self.zero_window_probes_of_ack(j, st);
    }

    /// [`Self::zero_window_probes`] for a pure ACK: the answer to a probe, or a probe.
    fn zero_window_probes_of_ack(&mut self, j: &mut Judge<'_>, st: &Step<'_, '_>) {
        let c = j.conn;
        let (seg, side, facts) = (st.seg, st.side, st.facts);
        let peer = side.other();
        if std::mem::take(&mut self.zwp_pending[peer]) {
            let k = AnomalyKind::ZeroWindowProbeAck;
            j.raise_segment(k, side, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("seq", seg.seq.0)
                    .with("len", 0)
                    .with("window", c.machine.end(side).window)
            });
        }
        let receiver = c.machine.end(peer);
        let probe = facts.sender_before.is_synchronized()
            && receiver.window == 0
            && receiver.rcv_nxt.is_some_and(|una| seg.seq.add(1) == una);
        if probe {
            self.zwp_pending[side] = true;
            let k = AnomalyKind::ZeroWindowProbe;
            j.raise_segment(k, side, || {
                Anomaly::new(k, seg.frame, seg.ts)
                    .with("seq", seg.seq.0)
                    .with("len", 0)
                    .with("style", "linux")
            });
        }
    }

    /// The keep-alive probes `side` sent, and the time between its last two.
    pub fn probes(&self, side: Side) -> (u32, Option<Duration>) {
        self.probes
            .as_ref()
            .map_or((0, None), |p| (p.sent[side], p.interval[side]))
    }

    /// The probes `side` sent that are not answered yet.
    fn unanswered(&self, side: Side) -> u32 {
        self.probes.as_ref().map_or(0, |p| p.unanswered[side])
    }

    /// Rules evaluated when the connection leaves the table.
    pub fn on_finish(&mut self, j: &mut Judge<'_>) {
        for s in [Side::Orig, Side::Resp] {
            if self.unanswered(s) >= j.cfg.keepalive_unanswered {
                self.timeout(j, s, "end_of_record");
            }
        }
    }

    /// keepalive_timeout: `s` gave up probing (`how`: its RST, or the record's end).
    fn timeout(&mut self, j: &mut Judge<'_>, s: Side, how: &'static str) {
        let c = j.conn;
        // Only called with probes unanswered, so with probes seen.
        let Some(p) = self.probes.as_mut() else {
            return;
        };
        let (frame, ts) = p.first[s].unwrap_or(c.last);
        let unanswered = std::mem::take(&mut p.unanswered[s]);
        let k = AnomalyKind::KeepaliveTimeout;
        j.raise(k, || {
            Anomaly::new(k, frame, ts)
                .with("prober", s.name())
                .with("unanswered", unanswered)
                .with("ended_by", how)
        });
    }
}

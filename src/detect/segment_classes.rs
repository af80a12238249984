//! Wireshark's segment classes (`tcp.analysis.*`, computed by [`crate::compat::wireshark`])
//! reported as segment anomalies, and reassembly's overlap conflicts.

use super::final_ack;
use super::judge::Judge;
use super::{Anomaly, AnomalyKind};
use crate::compat::wireshark::{Classes, flag as F};
use crate::tcp::reassembly::OverlapPolicy;
use crate::wire::{Segment, Side};

/// Each Wireshark flag and the anomaly id it is reported as.
const CLASS_KINDS: [(u16, AnomalyKind); 13] = [
    (
        F::RETRANSMISSION | F::FAST_RETRANSMISSION | F::SPURIOUS_RETRANSMISSION,
        AnomalyKind::Retransmission,
    ),
    (F::FAST_RETRANSMISSION, AnomalyKind::FastRetransmission),
    (
        F::SPURIOUS_RETRANSMISSION,
        AnomalyKind::SpuriousRetransmission,
    ),
    (F::OUT_OF_ORDER, AnomalyKind::OutOfOrder),
    (F::LOST_SEGMENT, AnomalyKind::PreviousSegmentNotCaptured),
    (F::ACK_LOST_SEGMENT, AnomalyKind::AckUnseenSegment),
    (F::DUPLICATE_ACK, AnomalyKind::DuplicateAck),
    (F::ZERO_WINDOW, AnomalyKind::ZeroWindow),
    (F::ZERO_WINDOW_PROBE, AnomalyKind::ZeroWindowProbe),
    (F::ZERO_WINDOW_PROBE_ACK, AnomalyKind::ZeroWindowProbeAck),
    (F::WINDOW_FULL, AnomalyKind::WindowFull),
    (F::WINDOW_UPDATE, AnomalyKind::WindowUpdate),
    (F::KEEP_ALIVE_ACK, AnomalyKind::KeepaliveAck),
];

/// Counts and reports the Wireshark classes of one segment sent by `side`.
pub fn on_classes(j: &mut Judge<'_>, seg: &Segment<'_>, side: Side, cls: Classes) {
    // A FIN repeated into the peer's TIME-WAIT and the TIME-WAIT's answer tell the story of a
    // lost final ACK (final_ack_lost), not of a retransmission and a duplicate ACK; the record
    // still counts them as Wireshark classifies them.
    let final_ack_story = cls.has(F::RETRANSMISSION | F::DUPLICATE_ACK)
        && (final_ack::repeated_fin_into_time_wait(j.conn, seg, side)
            || final_ack::time_wait_answer(j.conn, seg, side));
    for (bit, kind) in CLASS_KINDS {
        if !cls.has(bit) {
            continue;
        }
        if final_ack_story
            && matches!(
                kind,
                AnomalyKind::Retransmission | AnomalyKind::DuplicateAck
            )
        {
            continue;
        }
        j.raise_segment(kind, side, || {
            let mut a = Anomaly::new(kind, seg.frame, seg.ts)
                .with("seq", seg.seq.0)
                .with("len", seg.payload_len);
            if kind == AnomalyKind::ZeroWindowProbe {
                a = a.with("style", "one_byte");
            }
            if kind == AnomalyKind::DuplicateAck {
                a = a
                    .with("dup_number", cls.dupack_num)
                    .with("of_frame", cls.dupack_frame);
            }
            a
        });
    }
}

/// overlap_conflict: a retransmission from `side` carried `len` bytes at stream offset
/// `offset` that differ from the bytes first seen there (with --check-overlaps).
pub fn overlap_conflict(
    j: &mut Judge<'_>,
    seg: &Segment<'_>,
    side: Side,
    (offset, len): (u64, u32),
    policy: OverlapPolicy,
) {
    let k = AnomalyKind::OverlapConflict;
    j.raise(k, || {
        let kept = match policy {
            OverlapPolicy::First => "first",
            OverlapPolicy::Last => "last",
        };
        Anomaly::new(k, seg.frame, seg.ts)
            .with("from", side.name())
            .with("stream_offset", offset)
            .with("bytes", len)
            .with("kept", kept)
    });
}

//! Both directions' byte streams of one connection, and where their in-order bytes go.

use crate::tcp::Half;
use crate::tcp::reassembly::{Budget, OverlapPolicy, Stream};
use crate::wire::{Endpoint, PerSide, Segment, Side};

/// Receives the bytes each direction delivers in order (`--write-streams`, tests).
pub trait StreamSink {
    /// `bytes` continue the stream that `side` of connection `id` (`orig` to `resp`) sent.
    fn data(&mut self, id: u64, orig: Endpoint, resp: Endpoint, side: Side, bytes: &[u8]);
    /// Connection `id` ended: no more bytes for it.
    fn close(&mut self, id: u64);
    /// The run ended; the first error met, if any.
    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// What reassembly needs from the table: the shared memory budget, the overlap policy and
/// where delivered bytes go.
pub struct ReasmCtx<'a> {
    /// Memory shared by all streams.
    pub budget: &'a mut Budget,
    /// Which bytes win in a conflicting overlap.
    pub policy: OverlapPolicy,
    /// Keep bytes (overlap checks, stream output), not only ranges.
    pub keep: bool,
    /// Receiver of delivered bytes, if any.
    pub sink: &'a mut Option<Box<dyn StreamSink>>,
}

/// The connection a stream belongs to, as the sink names it.
#[derive(Clone, Copy)]
pub struct StreamOwner {
    /// Connection id.
    pub id: u64,
    /// Its originator.
    pub orig: Endpoint,
    /// Its responder.
    pub resp: Endpoint,
}

/// Hands delivered bytes to the sink, if there is one.
fn send(sink: &mut Option<Box<dyn StreamSink>>, c: StreamOwner, side: Side, bytes: &[u8]) {
    if let Some(k) = sink.as_mut() {
        k.data(c.id, c.orig, c.resp, side, bytes);
    }
}

/// The two streams of one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnStreams(PerSide<Stream>);

impl ConnStreams {
    /// The roles were flipped.
    pub fn swap(&mut self) {
        self.0.swap();
    }

    /// Feeds `seg` (from `side`) to its direction's stream and its acknowledgment to the
    /// other's; returns an overlap conflict (stream offset, bytes) if the segment's bytes
    /// disagree with bytes already seen.
    #[inline]
    pub fn segment(
        &mut self,
        c: StreamOwner,
        seg: &Segment<'_>,
        side: Side,
        reasm: &mut ReasmCtx<'_>,
    ) -> Option<(u64, u32)> {
        let f = seg.flags;
        let mut conflict = None;
        if !f.rst() {
            let sink = &mut *reasm.sink;
            let o = self.0[side].segment(
                seg.seq,
                f.syn(),
                f.fin(),
                seg.payload,
                seg.payload_len,
                reasm.keep,
                reasm.policy,
                reasm.budget,
                &mut |b: &[u8]| send(sink, c, side, b),
            );
            conflict = o.conflict;
        }
        if f.ack() {
            let sink = &mut *reasm.sink;
            let peer = side.other();
            self.0[peer].ack(seg.ack, reasm.keep, reasm.budget, &mut |b: &[u8]| {
                send(sink, c, peer, b)
            });
        }
        conflict
    }

    /// Ends both streams (deliveries across remaining holes), returning their memory and
    /// writing their totals into `halves`.
    pub fn finish(&mut self, c: StreamOwner, halves: &mut PerSide<Half>, reasm: &mut ReasmCtx<'_>) {
        for s in [Side::Orig, Side::Resp] {
            let sink = &mut *reasm.sink;
            let st = &mut self.0[s];
            let pending = st.pending();
            st.finish(reasm.keep, reasm.budget, &mut |b: &[u8]| {
                send(sink, c, s, b)
            });
            let h = &mut halves[s];
            h.pending_at_close = pending;
            h.stream_bytes = st.delivered;
            h.missed_bytes = st.missed;
            h.overlap_conflicts = st.conflicts;
            h.reassembly_cap_hits = st.cap_hits;
        }
        if let Some(k) = reasm.sink.as_mut() {
            k.close(c.id);
        }
    }
}

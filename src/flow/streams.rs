//! Both directions' byte streams of one connection, and where their in-order bytes go.

use crate::proto::{AppLayer, At, ConnRef};
use crate::tcp::Half;
use crate::tcp::reassembly::{Budget, OverlapPolicy, Piece, Stream};
use crate::wire::{Endpoint, PerSide, Segment, Side};

/// Receives the bytes each direction delivers in order (`--write-streams`, tests). `Send`, so
/// that the engine holding it can run on a thread of its own.
pub trait StreamSink: Send {
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
    /// The application layer, if the run parses it.
    pub app: Option<&'a mut AppLayer>,
}

/// The connection a stream belongs to, and the segment being accounted (at the end of a
/// stream: the connection's last).
#[derive(Clone, Copy)]
pub struct StreamOwner {
    /// The connection.
    pub conn: ConnRef,
    /// The segment.
    pub at: At,
}

/// Hands what a stream delivered to the sink and the application layer, if there are any.
fn send(
    sink: &mut Option<Box<dyn StreamSink>>,
    (app, done): (&mut Option<&mut AppLayer>, &mut AppDone),
    c: StreamOwner,
    side: Side,
    p: Piece<'_>,
) {
    match p {
        Piece::Bytes(bytes) => {
            let r = c.conn;
            if let Some(k) = sink.as_mut() {
                k.data(r.id, r.orig, r.resp, side, bytes);
            }
            if let Some(a) = app.as_mut()
                && !done.0
            {
                done.0 = !a.data(r, side, c.at, bytes);
            }
        }
        Piece::Gap(n) => {
            if let Some(a) = app.as_mut() {
                a.gap(c.conn.id, side, n);
            }
        }
    }
}

/// The two streams of one connection, and whether the application layer still wants their
/// bytes.
#[derive(Clone, Debug, Default)]
pub struct ConnStreams(PerSide<Stream>, AppDone);

crate::base::pack::pack_struct!(ConnStreams(s0, s1));

/// The application layer said this connection's bytes no longer matter.
#[derive(Clone, Copy, Debug, Default)]
struct AppDone(bool);

crate::base::pack::pack_struct!(AppDone(s0));

impl ConnStreams {
    /// Bytes both streams hold (see [`Stream::held_bytes`]).
    pub fn held_bytes(&self) -> usize {
        self.0[Side::Orig].held_bytes() + self.0[Side::Resp].held_bytes()
    }

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
            let (sink, app, done) = (&mut *reasm.sink, &mut reasm.app, &mut self.1);
            let o = self.0[side].segment(
                seg.seq,
                f.syn(),
                f.fin(),
                seg.payload,
                seg.payload_len,
                reasm.keep,
                reasm.policy,
                reasm.budget,
                &mut |p: Piece<'_>| send(sink, (app, done), c, side, p),
            );
            conflict = o.conflict;
        }
        if f.ack() {
            let (sink, app, done) = (&mut *reasm.sink, &mut reasm.app, &mut self.1);
            let peer = side.other();
            self.0[peer].ack(seg.ack, reasm.keep, reasm.budget, &mut |p: Piece<'_>| {
                send(sink, (app, done), c, peer, p)
            });
        }
        conflict
    }

    /// Ends both streams (deliveries across remaining holes), returning their memory and
    /// writing their totals into `halves`.
    pub fn finish(&mut self, c: StreamOwner, halves: &mut PerSide<Half>, reasm: &mut ReasmCtx<'_>) {
        for s in [Side::Orig, Side::Resp] {
            let (sink, app, done) = (&mut *reasm.sink, &mut reasm.app, &mut self.1);
            let st = &mut self.0[s];
            let pending = st.pending();
            st.finish(reasm.keep, reasm.budget, &mut |p: Piece<'_>| {
                send(sink, (app, done), c, s, p)
            });
            let h = &mut halves[s];
            h.stream_bytes = st.delivered;
            let any = pending != 0 || st.missed != 0 || st.conflicts != 0 || st.cap_hits != 0;
            if let Some(r) = h.rare_to_set(any) {
                r.pending_at_close = pending;
                r.missed_bytes = st.missed;
                r.overlap_conflicts = st.conflicts;
                r.reassembly_cap_hits = st.cap_hits;
            }
        }
        if let Some(k) = reasm.sink.as_mut() {
            k.close(c.conn.id);
        }
        if let Some(a) = reasm.app.as_mut() {
            a.close(c.conn.id);
        }
    }
}

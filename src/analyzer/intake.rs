//! The analyzer's first half: frames in, what they carry for the connection table out.
//!
//! The intake screens each frame's time with the [`CaptureClock`], counts frames, and decodes
//! them; the connection table ([`super::Engine`]) never sees a frame. Keeping the two halves
//! apart is what lets a run put them on two threads ([`super::Batch`]) with results identical to
//! one thread: nothing flows back from the table to the intake.

use crate::time::{
    CaptureClock, Timestamp,
    clock::{Release, Verdict},
};
use crate::wire::{
    BadTcpHeader, Datagram, DecodeStats, Decoder, IcmpError, OwnedPacket, Packet, Segment,
};

/// What one frame carries for the connection table.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// A TCP segment (lent: a batch hands out the copy it keeps without copying it again).
    Segment(&'a Segment<'a>),
    /// An ICMP error quoting a TCP segment.
    Icmp(IcmpError),
    /// A TCP header whose data offset is impossible.
    BadHeader(BadTcpHeader),
    /// A UDP datagram and its payload (only when the application layer is parsed).
    Udp(Datagram, &'a [u8]),
}

/// Frames held while the capture has no plausible time yet: past these, they are analysed at
/// the epoch (a capture whose every time is absurd still gets analysed, in order).
const MAX_HELD: usize = 16;

/// A frame held until the clock knows its time (see [`Intake::push`]).
struct HeldFrame {
    frame: u64,
    /// The frame as captured (its own time).
    copy: OwnedPacket,
}

/// What the intake counts of the frames themselves.
#[derive(Clone, Copy, Debug, Default)]
pub struct FrameCounts {
    /// Frames pushed.
    pub packets: u64,
    /// Their bytes on the wire.
    pub wire_bytes: u64,
    /// The first plausible frame time.
    pub first_ts: Option<Timestamp>,
    /// The latest plausible frame time.
    pub last_ts: Option<Timestamp>,
    /// Frames whose time was a fault (see [`CaptureClock`], which counts them).
    pub clock_faults: u64,
}

impl FrameCounts {
    /// Widens the capture's time span to `ts`, a plausible frame time.
    fn saw_time(&mut self, ts: Timestamp) {
        if self.first_ts.is_none() {
            self.first_ts = Some(ts);
        }
        self.last_ts = Some(self.last_ts.map_or(ts, |t| t.max(ts)));
    }
}

/// Frame times screened by a [`CaptureClock`], with the frames it holds until it knows their
/// time. The analysis and a second read of the capture (the report's ladders) screen alike, so
/// both see a frame at the same time.
#[derive(Default)]
pub struct Screen {
    clock: CaptureClock,
    /// Frames the clock holds until it knows their time.
    held: Vec<HeldFrame>,
}

impl Screen {
    /// Screens frame number `frame`: `f` gets it (and frames held before it, once their time
    /// is known, first) at the time to take it at, with its number, whether that time is a
    /// fault's stand-in and its own time (as captured), or nothing yet when the clock holds it
    /// (a copy).
    #[inline(always)]
    pub fn push(
        &mut self,
        pkt: &Packet<'_>,
        frame: u64,
        f: &mut impl FnMut(&Packet<'_>, u64, bool, Timestamp),
    ) {
        let v = self.clock.check(pkt.ts);
        // Nearly every frame: taken at once, nothing held before it. Kept small so that `f` is
        // inlined here (called through the rest, it cost the intake 1% more instructions).
        if v.release.is_none()
            && let Some(ts) = v.at
        {
            f(&Packet { ts, ..*pkt }, frame, v.fault, pkt.ts);
            return;
        }
        self.push_held(v, pkt, frame, f);
    }

    /// [`Self::push`] of a frame that releases held frames or is held itself.
    #[cold]
    #[inline(never)]
    fn push_held(
        &mut self,
        v: Verdict,
        pkt: &Packet<'_>,
        frame: u64,
        f: &mut impl FnMut(&Packet<'_>, u64, bool, Timestamp),
    ) {
        if let Some(r) = v.release {
            self.release(r, f);
        }
        let Some(ts) = v.at else {
            if self.held.len() >= MAX_HELD {
                // Only frames before any plausible time pile up: analysed at the epoch.
                let r = self.clock.end();
                self.release(r, f);
            }
            self.held.push(HeldFrame {
                frame,
                copy: OwnedPacket::of(pkt),
            });
            return;
        };
        f(&Packet { ts, ..*pkt }, frame, v.fault, pkt.ts);
    }

    /// The end of the capture: frames still held go to `f` at the time the clock gives them.
    pub fn end(&mut self, f: &mut impl FnMut(&Packet<'_>, u64, bool, Timestamp)) {
        let r = self.clock.end();
        self.release(r, f);
    }

    /// Frames whose time was a fault, counted by the clock.
    pub fn faults(&self) -> u64 {
        self.clock.faults()
    }

    /// Hands out the frames held at the time the clock gives them, in their order.
    fn release(&mut self, r: Release, f: &mut impl FnMut(&Packet<'_>, u64, bool, Timestamp)) {
        for h in std::mem::take(&mut self.held) {
            let pkt = Packet {
                ts: r.at,
                ..h.copy.packet()
            };
            f(&pkt, h.frame, r.fault, h.copy.ts);
        }
    }
}

/// The clock, the decoder and the frames held between them.
pub struct Intake {
    decoder: Decoder,
    screen: Screen,
    counts: FrameCounts,
}

impl Intake {
    /// An intake whose decoder verifies checksums when asked and keeps UDP datagrams for the
    /// application layer when asked.
    pub fn new(verify_checksums: bool, keep_udp: bool) -> Self {
        let mut decoder = Decoder::with_checksums(verify_checksums);
        decoder.keep_udp(keep_udp);
        Intake {
            decoder,
            screen: Screen::default(),
            counts: FrameCounts::default(),
        }
    }

    /// Takes one frame; what it carries (and what frames held before it carry, once their
    /// time is known) goes to `f` with the bytes the decoder held before it (IP fragments,
    /// charged to the memory bound).
    ///
    /// Frame times are screened by a [`CaptureClock`] first, so that no time difference the
    /// engine takes can be absurd (or overflow): a frame whose time is a fault is analysed at
    /// the capture's time; one that leaps years ahead, or comes before any plausible time, is
    /// held (copied) until a later frame tells which time it is to be analysed at.
    #[inline]
    pub fn push(&mut self, pkt: &Packet<'_>, f: &mut impl FnMut(usize, Decoded<'_>)) {
        let c = &mut self.counts;
        c.packets += 1;
        c.wire_bytes += pkt.orig_len as u64;
        let frame = c.packets;
        self.screen.push(
            pkt,
            frame,
            &mut take(&mut self.decoder, &mut self.counts, f),
        );
    }

    /// The end of the capture: frames still held go to `f` at the time the clock gives them.
    pub fn end(&mut self, f: &mut impl FnMut(usize, Decoded<'_>)) {
        self.screen
            .end(&mut take(&mut self.decoder, &mut self.counts, f));
    }

    /// What has been counted of the frames so far.
    pub fn counts(&self) -> FrameCounts {
        FrameCounts {
            clock_faults: self.screen.faults(),
            ..self.counts
        }
    }

    /// Frames pushed so far: the number of the last one.
    pub fn frames(&self) -> u64 {
        self.counts.packets
    }

    /// Frames decoded into TCP segments so far.
    pub fn tcp_segments(&self) -> u64 {
        self.decoder.stats.tcp_segments
    }

    /// The decoder's counters, once pending fragments are accounted.
    pub fn finish(&mut self) -> DecodeStats {
        self.decoder.finish();
        self.decoder.stats.clone()
    }
}

/// What the intake does with a frame the clock has screened: its time widens the capture's
/// span (unless it stands in for a fault), and it is decoded for `f`.
#[inline(always)]
fn take<'a, F: FnMut(usize, Decoded<'_>)>(
    decoder: &'a mut Decoder,
    counts: &'a mut FrameCounts,
    f: &'a mut F,
) -> impl FnMut(&Packet<'_>, u64, bool, Timestamp) + 'a {
    move |pkt, frame, fault, _| {
        if !fault {
            counts.saw_time(pkt.ts);
        }
        decode(decoder, pkt, frame, f);
    }
}

/// Decodes frame number `frame`; what it carries goes to `f`.
#[inline]
fn decode(
    decoder: &mut Decoder,
    pkt: &Packet<'_>,
    frame: u64,
    f: &mut impl FnMut(usize, Decoded<'_>),
) {
    // What the decoder holds (IP fragments) as of the previous frame counts against the
    // memory bound with the table's own state.
    let outside = decoder.memory_bytes();
    if let Some(seg) = decoder.decode(pkt, frame) {
        f(outside, Decoded::Segment(&seg));
        return;
    }
    if let Some(icmp) = decoder.take_icmp_error() {
        f(outside, Decoded::Icmp(icmp));
    } else if let Some(b) = decoder.take_bad_header() {
        f(outside, Decoded::BadHeader(b));
    } else if let Some((d, payload)) = decoder.take_udp() {
        f(outside, Decoded::Udp(d, payload));
    }
}

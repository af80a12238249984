//! The anomaly catalogue: stable ids, severities, scopes and the explanations `tcpaudit explain`
//! prints. The ids are part of tcpaudit's interface and are never renamed.

use std::fmt;

/// How serious an anomaly is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// A normal protocol event worth a row.
    Info,
    /// Unusual, often benign or a capture artefact.
    Notice,
    /// A likely problem or an attack indicator.
    Warning,
    /// A protocol violation, evasion or corruption.
    Error,
}

impl Severity {
    /// `info`, `notice`, `warning` or `error`.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What an anomaly is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One segment (classified as Wireshark does; reported at the 1st, 10th, 100th ... of each
    /// kind per connection, counted exactly on the record).
    Segment,
    /// One connection.
    Connection,
    /// A listening endpoint (server address and port), over a window of time.
    Listener,
    /// A sending host (an address), across its connections.
    Host,
}

impl Scope {
    /// `segment`, `connection`, `listener` or `host`.
    pub const fn name(self) -> &'static str {
        match self {
            Scope::Segment => "segment",
            Scope::Connection => "connection",
            Scope::Listener => "listener",
            Scope::Host => "host",
        }
    }

    /// Whether anomalies of this scope belong to no single connection (listener and host
    /// episodes).
    pub const fn beyond_connections(self) -> bool {
        matches!(self, Scope::Listener | Scope::Host)
    }
}

macro_rules! catalogue {
    ($( $variant:ident = $id:literal, $sev:ident, $scope:ident, $summary:literal; )*) => {
        /// Every anomaly tcpaudit reports.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[repr(u8)]
        pub enum AnomalyKind {
            $(
                #[doc = $summary]
                $variant,
            )*
        }

        impl AnomalyKind {
            /// All kinds, in catalogue order.
            pub const ALL: &'static [AnomalyKind] = &[$(AnomalyKind::$variant),*];

            /// The stable snake_case id (JSON `"kind"`).
            pub const fn id(self) -> &'static str {
                match self { $(AnomalyKind::$variant => $id,)* }
            }

            /// Default severity.
            pub const fn severity(self) -> Severity {
                match self { $(AnomalyKind::$variant => Severity::$sev,)* }
            }

            /// Whether an occurrence flags its connection as worth a closer look: a warning or
            /// an error by default.
            pub const fn flags_connection(self) -> bool {
                matches!(self.severity(), Severity::Warning | Severity::Error)
            }

            /// Connection or listener.
            pub const fn scope(self) -> Scope {
                match self { $(AnomalyKind::$variant => Scope::$scope,)* }
            }

            /// One line for `tcpaudit explain`.
            pub const fn summary(self) -> &'static str {
                match self { $(AnomalyKind::$variant => $summary,)* }
            }
        }
    };
}

catalogue! {
    SynRetransmission = "syn_retransmission", Notice, Connection,
        "The initiator repeated its SYN (same ISN): the SYN or the SYN-ACK was lost or late.";
    SynackRetransmission = "synack_retransmission", Notice, Connection,
        "The responder repeated its SYN-ACK: it did not get the third ACK in time.";
    MissingThirdAck = "missing_third_ack", Warning, Connection,
        "The responder sent a SYN-ACK and the initiator's pure third ACK never reached the capture point.";
    HalfOpen = "half_open", Warning, Connection,
        "The responder held the connection half-open (SYN-RECEIVED) and it never completed for it.";
    ConnectionRefused = "connection_refused", Notice, Connection,
        "A SYN was answered by RST: nothing listens on that port.";
    SimultaneousOpen = "simultaneous_open", Notice, Connection,
        "Both ends sent SYN before seeing the other's (RFC 9293 figure 7).";
    StaleSyn = "stale_syn", Warning, Connection,
        "An old duplicate SYN of a finished incarnation arrived (same ISN).";
    SynWithData = "syn_with_data", Notice, Connection,
        "A SYN carried payload (TCP Fast Open, or an evasion attempt).";
    InvalidFlags = "invalid_flags", Error, Connection,
        "A segment carried an impossible flag combination (SYN+FIN, SYN+RST, FIN without ACK, null, Xmas).";
    SynFlood = "syn_flood", Error, Listener,
        "Many half-open connections from many sources to one listener, almost none completed.";
    HalfOpenBacklog = "half_open_backlog", Warning, Listener,
        "A listener's half-open connections crossed the backlog threshold.";
    ListenQueueOverflow = "listen_queue_overflow", Warning, Listener,
        "A listener answered some SYNs but left others unanswered: its queue was full.";
    Syncookies = "syncookies", Notice, Listener,
        "SYN-ACKs look stateless (SYN cookies): options dropped, no retransmission (heuristic).";
    PrematureReuse2msl = "premature_reuse_2msl", Warning, Connection,
        "A four-tuple was reused within 2*MSL of the previous incarnation's close.";
    TimewaitAssassination = "timewait_assassination", Warning, Connection,
        "A RST ended a TIME-WAIT early (RFC 1337 hazard).";
    RstAbort = "rst_abort", Notice, Connection,
        "An established connection was ended by RST instead of the FIN exchange.";
    RstAfterClose = "rst_after_close", Info, Connection,
        "RSTs answered segments for a connection the receiver had already closed or aborted.";
    CloseWaitStuck = "close_wait_stuck", Warning, Connection,
        "One side acknowledged the peer's FIN and never sent its own.";
    HalfClose = "half_close", Info, Connection,
        "Data kept flowing after the other direction's FIN (a half-closed connection).";
    SimultaneousClose = "simultaneous_close", Info, Connection,
        "Both ends sent FIN before seeing the other's.";
    ChallengeAck = "challenge_ack", Notice, Connection,
        "An ACK answered an in-window but inexact RST or a SYN (RFC 5961 challenge ACK).";
    RstInjectionSuspected = "rst_injection_suspected", Warning, Connection,
        "A RST whose TTL or IP ID does not fit the sender's other segments: probably forged.";
    TtlAnomaly = "ttl_anomaly", Notice, Connection,
        "A segment's TTL (hop limit) differs from the rest of its direction.";
    Retransmission = "retransmission", Notice, Segment,
        "A segment re-sent data seen before (Wireshark tcp.analysis.retransmission).";
    FastRetransmission = "fast_retransmission", Notice, Segment,
        "A retransmission right after two or more duplicate ACKs (RFC 5681 fast retransmit).";
    SpuriousRetransmission = "spurious_retransmission", Notice, Segment,
        "A retransmission of data the receiver had already acknowledged.";
    OutOfOrder = "out_of_order", Notice, Segment,
        "A segment arrived after a later one, within the initial RTT (reordering, not loss).";
    PreviousSegmentNotCaptured = "previous_segment_not_captured", Warning, Segment,
        "A segment starts beyond the next expected byte: the capture missed data (or it was lost before the capture point).";
    AckUnseenSegment = "ack_unseen_segment", Warning, Segment,
        "An ACK covers data the capture never saw.";
    DuplicateAck = "duplicate_ack", Notice, Segment,
        "A pure ACK repeating the previous one: the receiver saw a hole (RFC 5681).";
    ZeroWindow = "zero_window", Warning, Segment,
        "A receiver advertised a zero window: it cannot take more data.";
    ZeroWindowProbe = "zero_window_probe", Notice, Segment,
        "A sender probed a zero window: one new byte, or (Linux) an empty segment below SND.UNA (RFC 9293 §3.8.6.1).";
    ZeroWindowProbeAck = "zero_window_probe_ack", Notice, Segment,
        "The receiver answered a zero-window probe, window still zero.";
    WindowFull = "window_full", Warning, Segment,
        "A segment filled the receiver's advertised window exactly.";
    WindowUpdate = "window_update", Info, Segment,
        "A pure ACK changing only the advertised window.";
    KeepaliveAck = "keepalive_ack", Info, Segment,
        "The answer to a keep-alive probe.";
    WindowShrink = "window_shrink", Notice, Segment,
        "The right edge of a receiver's window moved left (RFC 9293 §3.8.6 says it should not).";
    OutOfWindow = "out_of_window", Warning, Segment,
        "A segment carried data beyond the receiver's advertised window.";
    InvalidAck = "invalid_ack", Warning, Segment,
        "An ACK older than RFC 5961 §5 accepts (below SND.UNA minus the largest window).";
    CaptureDuplicate = "capture_duplicate", Info, Segment,
        "The same packet twice in the capture (same sequence, length, ACK and IP ID): a SPAN or tap artefact, not a retransmission.";
    BadChecksum = "bad_checksum", Error, Segment,
        "A segment with a wrong TCP checksum (with --verify-checksums).";
    SegmentExceedsMss = "segment_exceeds_mss", Info, Segment,
        "A segment larger than the receiver's MSS: TSO/GRO on the capturing host.";
    OverlapConflict = "overlap_conflict", Error, Connection,
        "Retransmitted bytes differ from the bytes first seen at the same place (evasion or corruption).";
    Keepalive = "keepalive", Info, Connection,
        "A keep-alive probe: an idle connection checked that its peer is still there.";
    KeepaliveTimeout = "keepalive_timeout", Warning, Connection,
        "Keep-alive probes went unanswered until the prober gave up.";
    ThirdAckWithData = "third_ack_with_data", Info, Connection,
        "The handshake was completed by a segment carrying data (or FIN), with no sign of a lost ACK.";
    HandshakeBadAck = "handshake_bad_ack", Warning, Connection,
        "A SYN-ACK or third ACK acknowledged something other than the SYN it answers.";
    WindowScaleInvalid = "window_scale_invalid", Warning, Connection,
        "A SYN announced a window-scale shift above 14 (RFC 7323 §2.3); 14 is used.";
    AcceptQueueOverflow = "accept_queue_overflow", Warning, Connection,
        "The responder repeated its SYN-ACK after the initiator's third ACK: its accept queue was full.";
    IcmpError = "icmp_error", Notice, Connection,
        "A router or host answered a segment with an ICMP error (time exceeded, unreachable, fragmentation needed, packet too big).";
    SessionCookieCleartext = "session_cookie_cleartext", Warning, Connection,
        "A session cookie crossed the network in cleartext HTTP: anyone on the path can read it and take over the session (with --app).";
    SessionCookieInsecure = "session_cookie_insecure", Notice, Connection,
        "A server set a session cookie without Secure or HttpOnly (with --app).";
    CookieTooLarge = "cookie_too_large", Warning, Connection,
        "A cookie over 4,096 bytes, more than browsers promise to keep (with --app).";
    SessionHijackSuspected = "session_hijack_suspected", Warning, Connection,
        "One session cookie value was presented from two client addresses: possibly a stolen session (with --app).";
    PredictableIsn = "predictable_isn", Warning, Host,
        "A host's initial sequence numbers across different four-tuples are guessable: constant, zero or small steps (RFC 6528 asks for a clock plus a keyed hash).";
    RetransmissionGiveup = "retransmission_giveup", Warning, Connection,
        "A sender retransmitted unacknowledged data (or its SYN) with a growing timeout, then stopped and went silent or reset: its retransmission timer gave up.";
    FinalAckLost = "final_ack_lost", Notice, Connection,
        "The passive closer repeated its FIN from LAST-ACK and the active closer's TIME-WAIT acknowledged it again: the last ACK was lost (the first reason TIME-WAIT lasts 2*MSL).";
    BadDataOffset = "bad_data_offset", Error, Connection,
        "A segment's data offset (header length) was below 20 bytes or beyond the segment: a malformed or crafted header the receiver drops.";
    EcnCongestion = "ecn_congestion", Notice, Connection,
        "A router marked this connection's packets Congestion Experienced (ECN): the path was congested and the sender was told to slow down without a loss.";
    EcnEchoMissing = "ecn_echo_missing", Warning, Connection,
        "Packets arrived marked Congestion Experienced but the receiver never echoed ECE: ECN is broken on this path or stack.";
    ReceiveWindowLimited = "receive_window_limited", Warning, Connection,
        "The sender kept filling the receiver's advertised window, round trip after round trip: throughput was window / RTT, set by the receiver, not by the network.";
}

impl AnomalyKind {
    /// Looks an id up.
    pub fn from_id(id: &str) -> Option<AnomalyKind> {
        Self::ALL.iter().copied().find(|k| k.id() == id)
    }

    /// The id a mistyped `id` most likely meant: the same id in other case or with `-` or
    /// spaces for `_` (`SYN_FLOOD`, `syn-flood`), else the nearest within a few edits.
    pub fn nearest(id: &str) -> Option<AnomalyKind> {
        let wanted: String = id
            .trim()
            .chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        if let Some(k) = Self::from_id(&wanted) {
            return Some(k);
        }
        // A third of the id's length, at least 2: `syn_flod` finds syn_flood, `xyz` nothing.
        let most = (wanted.len() / 3).max(2);
        Self::ALL
            .iter()
            .map(|k| (edits(&wanted, k.id()), *k))
            .filter(|(d, _)| *d <= most)
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k)
    }

    /// The error for an id that is none: with the nearest id when one is close.
    pub fn unknown(id: &str) -> String {
        match Self::nearest(id) {
            Some(k) => format!(
                "unknown anomaly id '{id}'; did you mean {}? (`tcpaudit explain` lists them)",
                k.id()
            ),
            None => format!("unknown anomaly id '{id}' (`tcpaudit explain` lists them)"),
        }
    }

    /// Index for per-kind counters.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Number of kinds.
    pub const COUNT: usize = Self::ALL.len();
}

/// Levenshtein distance between two short ASCII ids, one row of the table at a time.
fn edits(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.id())
    }
}

/// Written as its place in the catalogue (the declaration order, which `ALL` follows).
impl crate::base::pack::Pack for AnomalyKind {
    #[inline]
    fn pack(&self, w: &mut crate::base::pack::Writer) {
        w.byte(*self as u8);
    }
    #[inline]
    fn unpack(r: &mut crate::base::pack::Reader<'_>) -> Self {
        // A place past the catalogue (a defect) reads as the first kind.
        AnomalyKind::ALL
            .get(usize::from(r.byte()))
            .copied()
            .unwrap_or(AnomalyKind::ALL[0])
    }
}

//! The long explanations behind `tcpaudit explain <id>`: what an anomaly means, why it matters,
//! exactly how tcpaudit decides it, and which options tune it.

use super::AnomalyKind;

/// The explanation of one anomaly kind.
#[derive(Clone, Copy, Debug)]
pub struct Explanation {
    /// What it means.
    pub meaning: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// Exactly how it is decided.
    pub rule: &'static str,
    /// Options that tune it (empty when it has none).
    pub tuning: &'static str,
}

/// The explanation of `kind`.
pub fn explain(kind: AnomalyKind) -> Explanation {
    use AnomalyKind::*;
    let (meaning, why, rule, tuning) = match kind {
        SynRetransmission => (
            "The initiator sent its SYN again with the same initial sequence number.",
            "A repeated SYN means the first SYN or its SYN-ACK was lost or delayed: every copy costs the client a retransmission timeout, so connection setup took seconds instead of a round trip. Linux starts at 1 s (RFC 6298 §2.1). Recent kernels keep the first retransmissions at 1 s (net.ipv4.tcp_syn_linear_timeouts, 4 by default) and only then double: recorded here on Linux 6.18 with tcp_syn_retries = 5 the gaps were 1, 1, 1, 1, 1, 2, 4, 8 s. Older kernels double at once (1, 2, 4, 8 ... s) and give up after tcp_syn_retries retransmissions (6 by default, about 127 s) with ETIMEDOUT; the linear timeouts allow more copies: with tcp_syn_retries = 2, Linux 6.18 sent 5 retransmissions 1 s apart and gave up 2 s after the last (fixtures/recordings/syn_giveup.pcap).",
            "A SYN without ACK from the originator whose sequence number equals its ISN, while the connection is not finished. Reported once per connection with the number of copies and the gaps between them (RFC 6298 §5.5 back-off); the same series is on the record (orig.syn_backoff), and a SYN that stops being repeated with no answer, the sender silent for twice its last gap, is retransmission_giveup.",
            "",
        ),
        SynackRetransmission => (
            "The responder sent its SYN-ACK again.",
            "The server did not receive the third ACK in time and retransmitted with an exponential back-off (1, 2, 4, 8, 16 s on Linux, tcp_synack_retries = 5). Repeated SYN-ACKs that are never answered are what a SYN flood leaves in the half-open queue.",
            "A SYN-ACK from the responder whose sequence number equals its ISN, seen more than once. Reported once with the copies and the gaps between them; the same series is on the record (resp.syn_backoff). Linux does not space SYN-ACKs linearly: recorded here on Linux 6.18 with tcp_synack_retries = 2 the gaps were 1.01 and 2.02 s.",
            "",
        ),
        MissingThirdAck => (
            "The responder sent a SYN-ACK and the initiator's pure ACK, the handshake's third step, never reached the capture point.",
            "The third ACK tells the server that the client really asked for this connection: without it a delayed, stale SYN could open a connection nobody wants (the reason the handshake has three steps, RFC 9293 §3.5). A lost third ACK leaves the server in SYN-RECEIVED, retransmitting its SYN-ACK, until data arrives or it gives up; a middlebox that drops pure ACKs shows this on every connection.",
            "Raised in three cases: (a) data or a FIN completes the handshake and the responder had repeated its SYN-ACK, or the completing segment came later after the SYN-ACK than an initiator holds its ACK back for data (200 ms, Linux's delayed-ACK maximum, or twice the SYN to SYN-ACK leg); (b) the handshake never completes and the responder repeated its SYN-ACK (with half_open); (c) the data completing the handshake is answered by RST from a responder that had given the half-open connection up (with half_open and rst_abort). Data riding on the third segment with no such sign is the legitimate merged third ACK: third_ack_with_data, at info level.",
            "",
        ),
        HalfOpen => (
            "The responder answered with SYN-ACK but the handshake never completed.",
            "Each such connection holds an entry in the server's SYN queue (about 304 bytes on Linux) until the SYN-ACK retransmissions give up, 63 s by default. Many of them fill the queue: that is what a SYN flood does.",
            "When the record ends (capture end, or the SYN-RECEIVED idle timeout), the responder is still in SYN-RECEIVED: it sent a SYN-ACK and saw neither an acknowledgment of it nor a RST. Also when the responder visibly gave the half-open connection up: the initiator's data completing the handshake is answered by RST with nothing of it acknowledged.",
            "--handshake-timeout",
        ),
        ConnectionRefused => (
            "A SYN was answered by RST: no process listens on that port (or a firewall rejects).",
            "The client gets ECONNREFUSED at once. A burst of them is a port scan or a service that is down.",
            "A RST from the responder, acknowledging the originator's SYN (ack = ISN + 1), while the originator is in SYN-SENT (RFC 9293 §3.10.7.3). Zeek logs these as REJ.",
            "",
        ),
        SimultaneousOpen => (
            "Both ends sent a SYN before receiving the other's.",
            "Rare outside NAT traversal and self-connects; RFC 9293 handles it with four segments and both ends in SYN-RECEIVED, which some middleboxes and stacks mishandle.",
            "A SYN without ACK reaches an endpoint that has itself sent a SYN and is in SYN-SENT (RFC 9293 §3.5, figure 7).",
            "",
        ),
        StaleSyn => (
            "An old duplicate of this connection's SYN (same ISN) arrived after the connection had finished.",
            "This is exactly the case the third handshake step exists for: without it the server would open a connection the client never asked for and wait for data that never comes. The detail shows how each side answered: a TIME-WAIT endpoint answers with an ACK of its old state, a listener answers with a SYN-ACK that the client then resets.",
            "A SYN from the originator with its original ISN (and, when both carry timestamps, the same TSval: the very same segment) after the connection was established and then closed (both FINs, or a RST). The duplicate opens a record of its own, linked to the finished one by prev_id, so the answers it draws (a new SYN-ACK, a re-sent ACK from TIME-WAIT, the initiator's RST) do not change the finished record. Reported on that new record with the time since the close, whether an endpoint was in TIME-WAIT, and the next two segments that answered it. A SYN repeated after a refusal (Windows retries a refused connect twice) is a retry, counted as syn_retransmission.",
            "--msl",
        ),
        SynWithData => (
            "A SYN carried payload.",
            "Legitimate with TCP Fast Open (RFC 7413, with a cookie) and then reported as info; otherwise it forces the server to buffer data for an unverified peer and is a known evasion technique.",
            "A SYN or SYN-ACK whose TCP payload length (from the IP header) is not zero. Severity info when the SYN carries a TFO cookie.",
            "",
        ),
        InvalidFlags => (
            "A segment carried a flag combination TCP gives no meaning: SYN+FIN, SYN+RST, FIN+RST, FIN without ACK, no flags at all (null), or FIN+PSH+URG (Xmas).",
            "No TCP stack sends these; scanners (nmap -sF, -sN, -sX) and fuzzers do, to fingerprint operating systems or slip past stateless filters.",
            "Any segment whose control bits are not one of: SYN, SYN+ACK, RST (±ACK), FIN+ACK, ACK. The detail names the combination.",
            "",
        ),
        SynFlood => (
            "Many connection attempts from many sources to one listener, almost none of which completed.",
            "A SYN flood fills the listener's half-open queue so real clients cannot connect (RFC 4987). Counting half-open connections rather than SYN packets keeps a busy but healthy service from looking like one.",
            "Per listener, attempts (connections opened by a SYN) are half-open until they complete, are refused or reset, or leave the table. A flood starts when the half-open count reaches --flood-half-open, the share of completed attempts in the last --flood-window is at most --flood-max-completion, and at least --flood-min-sources distinct sources were seen; it ends when the half-open count falls below half the threshold or the capture ends. Reported at the end with: start, end, duration and rate_per_s from the first to the last SYN of its attempts (whatever was tracked); attempts (exact, SYN retransmissions excluded); distinct_sources, exact up to 128 and beyond that a HyperLogLog++ estimate (precision 12) whose one-standard-error bound is distinct_sources_error (1.6%: the true count is within twice it 95% of the time); top_sources, by Space-Saving over 64 counters, each with attempts_max and attempts_min (guaranteed bounds; only sources whose certain attempts are at least their possible over-count are listed, so a spoofed flood lists none) and top_sources_max_overcount (the most any counter may over-count); completion_ratio; synacks, synacks_reset_by_source and synack_reset_share (the listener's SYN-ACKs answered by RST: in a spoofed flood, backscatter from the real owners of the spoofed addresses, not forged resets) and source_resets (the sources' RSTs, also when the SYN-ACKs are not captured). Attempts beyond the tracking caps are counted here instead of as connection records, and still per listener in Top listeners. Listeners are tracked up to 65,536 at once, 4,096 of them on one address (a flood or scan across the ports of one host takes no more): attempts to the others are aggregated the same way, counted in Top listeners and judged by no listener rule (the summary's untracked_listener_attempts). The peak (peak_half_open) counts what the kernel's SYN-RECV count shows: attempts held in SYN-RECEIVED at once, each from its first SYN-ACK until the handshake completed, was reset, or the listener visibly gave up (its last SYN-ACK plus twice the last retransmission gap, Linux's doubling timeout); a SYN-ACK never retransmitted by its 1 s deadline while the listener repeated others (or sent SYN cookies) was a cookie and was never held. peak_basis says \"syn_received\" for that count, or \"pending\" when the capture shows none of the listener's SYN-ACKs or attempts were aggregated beyond the caps: then the peak is of attempts pending (SYN seen, not resolved), all the capture can tell. peak_pending is always that pending count.",
            "--flood-half-open, --flood-min-sources, --flood-max-completion, --flood-window, --max-half-open",
        ),
        HalfOpenBacklog => (
            "A listener's half-open connections crossed the backlog threshold.",
            "Linux drops SYNs (or, with tcp_syncookies = 1, answers with cookies) once the SYN queue of a listener is full; the smallest queue is 128 (tcp_max_syn_backlog minimum).",
            "The listener's half-open count (as for syn_flood: attempts pending) reaches --backlog; reported when it falls below again or at capture end, with the peak, its frame and time (peak, peak_frame, peak_at: attempts held in SYN-RECEIVED, comparable with the kernel's SYN-RECV count, as peak_half_open of syn_flood), peak_basis and peak_pending.",
            "--backlog",
        ),
        ListenQueueOverflow => (
            "A listener answered some SYNs but left others without any answer.",
            "A listening socket whose accept queue or SYN queue is full silently drops new SYNs while still answering retransmissions of others: clients see connection delays of 1, 3, 7 s.",
            "A connection attempt ends without SYN-ACK, RST or ICMP error while the same listener sent a SYN-ACK to another attempt within --flood-window of it, and the attempt really waited: its initiator repeated the SYN, or it was watched at least 1 s (Linux's initial SYN timeout) and four times the listener's slowest answer. A SYN still within its normal answer time when the capture ends is no evidence. Reported per listener at the end with the number of unanswered and answered attempts.",
            "--flood-window",
        ),
        Syncookies => (
            "The listener's SYN-ACKs look like SYN cookies (a heuristic).",
            "With cookies (Linux tcp_syncookies) the server keeps no state for half-open connections, so it survives a flood, but it cannot retransmit SYN-ACKs and drops window scaling and SACK for clients without timestamps, which slows those connections.",
            "While the listener is in a flood or backlog episode, any of: at least 3 SYN-ACKs without window scale and SACK although a SYN without timestamps offered them (Linux tcp_input.c clears the options then); at least 16 answered attempts watched 1.5 s or more whose single SYN-ACK was never retransmitted and never reset by the initiator (a request queue would have retransmitted it after 1 s; a cookie keeps no state to); at least 2 handshakes from clients with timestamps whose SYN-ACK TSval lagged the server's clock by 4 to 63 ms at its next segment (Linux stamps a cookie SYN-ACK with its millisecond clock rounded down to 64 plus the options; the per-connection TSval offset hides which options). Where the listener adds no random offset to its timestamps (tcp_timestamps = 2, older kernels), what the cookie encodes can be read back: timestamp_cookie_options_in_tsval counts the SYN-ACKs whose TSval's low 6 bits are the SYN's window scale (0xF without it), SACK (bit 4) and ECN (bit 5), as Linux's cookie_init_timestamp writes them. A heuristic: the detail gives each count (synacks_without_offered_options, unrepeated_synacks_after_1_5s, timestamp_cookies, timestamp_cookie_max_lag_ms, timestamp_cookie_options_in_tsval) and the SYN-ACK repeats seen meanwhile.",
            "",
        ),
        PrematureReuse2msl => (
            "A four-tuple was used by a new connection within 2*MSL of the previous connection's close.",
            "TIME-WAIT lasts 2*MSL so that segments of the old connection die out before the same four-tuple carries a new one; reusing it early risks old data being accepted by the new connection. RFC 6191 makes it safe when the new SYN's timestamp (or, without timestamps, its ISN) is greater than the old connection's.",
            "A SYN with a new ISN on a four-tuple whose previous incarnation closed (both FINs) less than 2*MSL earlier. The detail says which side held TIME-WAIT (the side that sent the first FIN), the gap, and whether RFC 6191 makes the reuse safe. Without timestamps the basis is the ISN, and ISN reuse within the clock's wrap is the hazard: an ISN clock (RFC 6528's M) runs through the 32-bit space in a fixed time (Linux ticks every 64 ns, 15.6 million a second: a wrap every 275 s; RFC 793's 4 µs clock: 4.8 h), so a new incarnation's ISN is beyond the old sequence space only while the clock has not wrapped since. The detail adds isn_step, the new ISN minus the old incarnation's ISN from the same sender, and isn_step_per_s, that step over the time between the two SYNs: about 15.6 million on Linux, when both ISNs come from the clock.",
            "--msl",
        ),
        TimewaitAssassination => (
            "A RST ended an endpoint's TIME-WAIT before 2*MSL.",
            "RFC 1337 describes how a RST (often an answer to an old duplicate) kills TIME-WAIT early, after which old duplicates can corrupt a new connection on the same four-tuple. Linux accepts such RSTs by default (tcp_rfc1337 = 0).",
            "A RST that is not out of window reaches an endpoint in TIME-WAIT.",
            "--msl",
        ),
        RstAbort => (
            "An established connection was ended by RST instead of the FIN exchange.",
            "An abort discards data still in flight or unread and tells the application 'connection reset by peer': a crashed process, a timeout in a proxy or load balancer, or SO_LINGER 0.",
            "A RST from an endpoint in a synchronized state other than TIME-WAIT. The detail gives the sender, its state and where the RST fell in the receiver's window (RFC 5961).",
            "",
        ),
        RstAfterClose => (
            "A RST answered a segment that reached an endpoint that had already closed or aborted.",
            "Usually harmless (a late segment after an abort), but a stream of them means one side keeps talking to a connection the other has forgotten.",
            "A RST from an endpoint already CLOSED (after its own RST, or after the close completed) on a connection that was established or closed.",
            "",
        ),
        CloseWaitStuck => (
            "One side acknowledged the peer's FIN and never sent its own.",
            "CLOSE-WAIT ends only when the application calls close(); a socket that stays there is an application bug (a leaked socket or file descriptor), and many of them exhaust file descriptors or ports.",
            "An endpoint in CLOSE-WAIT for at least --close-wait-timeout while the capture goes on, or at least 1 s when the record ends.",
            "--close-wait-timeout",
        ),
        HalfClose => (
            "Data kept flowing from one side after the other side's FIN.",
            "A FIN closes one direction only (RFC 9293 §3.6): clients that send a request and shut down their writing side rely on this. Informational.",
            "A segment with payload from an endpoint after the peer's FIN, before its own.",
            "",
        ),
        SimultaneousClose => (
            "Both sides sent FIN before seeing the other's.",
            "Both ends pass through CLOSING and both end in TIME-WAIT, holding the four-tuple on both hosts for 2*MSL. Informational.",
            "A FIN reaches an endpoint in FIN-WAIT-1 without acknowledging that endpoint's FIN.",
            "",
        ),
        ChallengeAck => (
            "An endpoint answered an in-window but inexact RST with a plain ACK (an RFC 5961 challenge ACK).",
            "RFC 5961 makes blind RST injection hard: only a RST at exactly RCV.NXT resets, one merely inside the window is challenged. Seeing challenge ACKs means someone sent RSTs with guessed sequence numbers, or a middlebox rewrote them.",
            "After a RST whose sequence number lies inside the receiver's window but is not RCV.NXT, the receiver's next segment is a pure ACK.",
            "",
        ),
        RstInjectionSuspected => (
            "A RST that probably did not come from the endpoint it claims.",
            "Middleboxes and censors inject RSTs to kill connections; their TTL and IP ID rarely match the real endpoint's.",
            "A RST whose TTL differs from its direction's first TTL by more than --ttl-tolerance, or whose IPv4 ID jumps more than 2048 from the direction's last ID, after at least one other segment from that side; or payload from a side after its own RST was accepted. The IP ID counts only when the sender's other segments follow one counter (ip_id_model `counter`: at least three non-zero IDs, each within 2048 of the one before); a sender with random or jumping IDs (`random`), zero or constant IDs, and a RST sent after the sender's own FIN (its socket may be gone: Linux answers from a TIME-WAIT or control socket with IDs of their own) give no IP-ID evidence. Not raised on a one-sided connection (the capture shows one direction only): the other direction's reaction cannot be seen. A RST with TTL evidence also raises ttl_anomaly.",
            "--ttl-tolerance",
        ),
        TtlAnomaly => (
            "A segment's TTL (hop limit) differs from the rest of its direction.",
            "Within one connection the path rarely changes; a different TTL points to a route change, a load balancer, or a forged segment.",
            "A segment whose TTL differs from its direction's first TTL by more than --ttl-tolerance (RSTs included: a forged RST raises both this and rst_injection_suspected). Each side's first, lowest and highest TTL are in the connection record (ttl_first, ttl_min, ttl_max). Not raised for the backscatter of a spoofed SYN: an initiator that sent only SYNs and then a RST on a connection that never completed is two hosts (the spoofer and the address's real owner), which the flood detail counts as source_resets.",
            "--ttl-tolerance",
        ),
        Retransmission => (
            "A segment carried data (or a SYN or FIN) below the next expected sequence number: data sent again.",
            "Retransmissions cost at least a retransmission timeout or a round trip each; a connection with many of them is losing packets somewhere on its path.",
            "Wireshark's rule: payload or SYN/FIN, sequence number below the next expected one, not a keep-alive. Spurious and fast retransmissions count as retransmissions too, as tshark prints them. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        FastRetransmission => (
            "A retransmission sent right after the receiver's duplicate ACKs, not after a timeout.",
            "Fast retransmit (RFC 5681) repairs a single loss within a round trip; it shows loss but a healthy recovery.",
            "Wireshark's rule: a retransmission whose sequence number equals the receiver's last ACK, after at least two duplicate ACKs, within 20 ms of that ACK. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        SpuriousRetransmission => (
            "A retransmission of data the receiver had already acknowledged.",
            "Spurious retransmissions waste bandwidth; they come from a retransmission timer shorter than the real RTT, or from a lost ACK.",
            "Wireshark's rule: payload whose end is at or below the receiver's last ACK. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        OutOfOrder => (
            "A segment arrived after a later one of the same direction, shortly after it.",
            "Reordering (multipath, load balancing) makes receivers send duplicate ACKs and senders retransmit needlessly.",
            "Wireshark's rule: sequence number below the next expected one, not ending at it, arriving within the connection's initial RTT (3 ms if unknown) of the highest segment. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        PreviousSegmentNotCaptured => (
            "A segment starts beyond the next expected sequence number: bytes before it were not captured.",
            "Either the capture dropped packets (common at its start) or they were lost before the capture point.",
            "Wireshark's rule (tcp.analysis.lost_segment): sequence number above the next expected one, not a RST. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        AckUnseenSegment => (
            "An ACK acknowledges data the capture never saw.",
            "The capture missed packets of the other direction (asymmetric routing, capture drops, or a capture that started midway).",
            "Wireshark's rule (tcp.analysis.ack_lost_segment): the ACK is above the highest sequence number the other direction was seen to send. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        DuplicateAck => (
            "A pure ACK that repeats the previous ACK with the same window.",
            "Duplicate ACKs tell the sender the receiver is missing a segment; three of them trigger fast retransmit (RFC 5681).",
            "Wireshark's rule: no payload, same window and ACK as the last segment, sequence number at the next expected one, no SYN/FIN/RST. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        ZeroWindow => (
            "A receiver advertised a zero receive window.",
            "The receiving application does not read fast enough; the sender must stop and probe.",
            "Wireshark's rule: window field zero, no SYN/FIN/RST. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        ZeroWindowProbe => (
            "A probe sent into a zero window to learn whether it opened.",
            "Probes keep a stalled connection alive (RFC 9293 §3.8.6.1); many of them mean a long stall. Stacks probe in two ways, and both are this kind: one new byte at SND.NXT (Windows, BSD; detail style one_byte), or, as Linux does, an empty segment at SND.UNA - 1 (detail style linux), which Wireshark labels a keep-alive.",
            "style one_byte is Wireshark's rule, classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs): one byte at the next expected sequence number while the receiver's last window was zero. style linux: no payload, sequence number one below the receiver's last ACK, while the receiver's last window was zero (Linux tcp_xmit_probe_skb). Reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        ZeroWindowProbeAck => (
            "The receiver's answer to a zero-window probe.",
            "While its window stays zero the stall goes on.",
            "After a one-byte probe, Wireshark's rule: a pure ACK with window zero, unchanged, right after the probe (classified exactly as Wireshark 4.0 does). After a Linux probe: the receiver's next segment, a pure ACK (detail window gives its window). Reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        WindowFull => (
            "A segment filled the receiver's advertised window exactly.",
            "The sender is limited by the receiver's window, not by the network: raising the receive buffer would speed the transfer.",
            "Wireshark's rule: the segment ends exactly at the receiver's last ACK plus its scaled window. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        WindowUpdate => (
            "A pure ACK that only changes the advertised window.",
            "Usually the end of a stall: the receiver read data and opened its window. Informational.",
            "Wireshark's rule: no payload, new non-zero window, same ACK, no SYN/FIN/RST. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        KeepaliveAck => (
            "The acknowledgment of a keep-alive probe.",
            "The peer is alive. Informational.",
            "Wireshark's rule: a pure ACK with unchanged window right after a keep-alive. Classified exactly as Wireshark 4.0 does (tcp_analyze_sequence_number, src/tcp/wireshark.rs); reported at the 1st, 10th, 100th ... occurrence per connection, with exact per-direction counts in the connection record's segment_counts.",
            "",
        ),
        WindowShrink => (
            "A receiver moved the right edge of its window (ACK plus window) to the left.",
            "RFC 9293 §3.8.6 strongly discourages shrinking the window: data already in flight may then fall outside it. It points to a stack under memory pressure or a middlebox rewriting windows.",
            "The ACK plus the scaled window of a segment is below the previous one of the same direction by at least 2^scale bytes (Zeek's window_recision rule); reported at the 1st, 10th, 100th ... occurrence.",
            "",
        ),
        OutOfWindow => (
            "A segment carried data beyond the right edge of the receiver's advertised window.",
            "A receiver drops such data; it means a sender ignoring the window, a middlebox rewriting it, or a forged segment (Suricata's est_packet_out_of_window).",
            "On a synchronized connection, the segment's end lies beyond the receiver's last ACK plus its scaled window (plus one MSS of tolerance for window probes).",
            "",
        ),
        InvalidAck => (
            "An ACK acknowledging data from far behind what it already acknowledged.",
            "RFC 5961 §5 makes receivers drop such ACKs (blind data injection defence); it points to a forged or very delayed segment.",
            "The ACK is below the sender's highest previous ACK minus the largest window the peer advertised (SND.UNA - MAX.SND.WND). ACKs above anything sent are ack_unseen_segment instead (the capture may have missed the data).",
            "",
        ),
        CaptureDuplicate => (
            "The same packet appears twice in the capture.",
            "SPAN ports and taps often copy a packet twice; counting it as a retransmission would blame the network for the capture setup (zeek/zeek#499, tcptrace's hardware dups).",
            "Same direction, sequence number, length, ACK, flags and IPv4 identification as the previous segment, within 10 ms. Wireshark flags such frames as retransmissions too; both are reported.",
            "",
        ),
        BadChecksum => (
            "A segment whose TCP checksum is wrong.",
            "Corruption on the path, or (on the capturing host itself) checksum offload: the NIC fills the checksum in after the capture, so every segment of one direction looks bad. The detail says whether the whole direction is bad.",
            "With --verify-checksums, the one's-complement sum over the pseudo-header and the whole segment is not 0xffff; segments the snaplen cut are not checked.",
            "--verify-checksums",
        ),
        SegmentExceedsMss => (
            "A segment carries more payload than the MSS the receiver announced.",
            "On the wire this cannot happen; in a capture taken on the sending host it is segmentation offload (TSO/GSO), and on the receiving host receive offload (GRO/LRO). Timing and retransmission figures are then per super-segment.",
            "Payload larger than the MSS option of the receiver's SYN or SYN-ACK.",
            "",
        ),
        OverlapConflict => (
            "A retransmission carried bytes that differ from the bytes first seen at the same stream offset.",
            "Endpoints resolve such overlaps differently (first or last copy wins, by operating system), so an attacker can show an inspecting device one content and the receiver another (Ptacek and Newsham's insertion and evasion); without an attacker it means corruption.",
            "Delivered bytes are kept until the peer acknowledges them; a segment overlapping them with different bytes is a conflict. The stream keeps the first copy unless --overlap-policy last. Bytes not held (memory bounds) are not compared.",
            "--overlap-policy, --max-stream-buffer",
        ),
        Keepalive => (
            "A keep-alive probe on an idle connection.",
            "Keep-alives (RFC 9293 §3.8.4, off by default) detect dead peers and keep NAT state alive. Linux sends the first after tcp_keepalive_time (7,200 s) of idleness, the next every tcp_keepalive_intvl (75 seconds, not minutes, whatever some notes say) while unanswered, and gives up after tcp_keepalive_probes (9, not 10); the record gives the interval it saw (keepalive_interval). Informational; see keepalive_timeout for probes nobody answers.",
            "A segment with no SYN, FIN or RST, at most one byte of payload, and sequence number SND.NXT - 1, from a synchronized endpoint while the peer's window is not zero (a zero-window probe looks the same).",
            "",
        ),
        KeepaliveTimeout => (
            "Keep-alive probes went unanswered until the prober gave up.",
            "The peer is gone (crashed, unplugged, or a NAT forgot the mapping); the prober resets the connection after tcp_keepalive_probes (9 on Linux) unanswered probes.",
            "The prober sends a RST after at least one unanswered probe, or the record ends with at least 2 unanswered probes.",
            "",
        ),
        ThirdAckWithData => (
            "The initiator's first acknowledgment of the SYN-ACK carried data (or a FIN): the third step of the handshake and the first request in one segment.",
            "This is legitimate (RFC 9293 §3.5 allows data on the third segment; clients with TCP_DEFER_ACCEPT servers, or sending at once, do it) and costs nothing. It is listed so a person can tell it from a lost third ACK, which is missing_third_ack.",
            "The originator's first segment acknowledging the responder's SYN carries payload or FIN, the responder sent its SYN-ACK once, and the segment came within 200 ms (Linux's delayed-ACK maximum) or twice the SYN to SYN-ACK leg of the SYN-ACK, whichever is longer.",
            "",
        ),
        HandshakeBadAck => (
            "A handshake step acknowledged something other than what its receiver sent: a SYN-ACK whose ACK is not the SYN's ISN + 1 (plus any data the SYN carried), or an initiator's first ACK that is not the SYN-ACK's ISN + 1.",
            "RFC 9293 §3.10.7.3 and §3.10.7.4 answer such a segment with RST and do not complete the handshake: the connection stays half-open. It comes from broken stacks, middleboxes rewriting sequence numbers, or evasion attempts (Suricata's 3whs_synack_with_wrong_ack and 3whs_wrong_seq_wrong_ack).",
            "The segment's ACK is not in (ISS, SND.NXT] of its receiver, as the receiver's segments showed them. The handshake is then not complete and gets no round-trip time. Unlike Suricata, a SYN-ACK acknowledging the data a SYN carried (TCP Fast Open) is acceptable, as RFC 9293 and RFC 7413 say.",
            "",
        ),
        WindowScaleInvalid => (
            "A SYN or SYN-ACK announced a window-scale shift above 14.",
            "RFC 7323 §2.3 limits the shift to 14 (windows up to 1 GiB) and tells the receiver to log the error and use 14. Larger values come from broken stacks or crafted packets; windows computed with them would be absurd.",
            "The Window Scale option of a segment with SYN has a shift above 14. tcpaudit uses 14 for that side's windows, as the RFC says.",
            "",
        ),
        AcceptQueueOverflow => (
            "The initiator's third ACK was on the wire, and the responder still repeated its SYN-ACK: it ignored the ACK.",
            "Linux ignores a third ACK when the listener's accept queue (listen() backlog) is full, counts it in ListenOverflows and keeps the half-open request (tcp_abort_on_overflow = 0), retransmitting its SYN-ACK until the request expires; the client believes it is connected, and its first request is answered late or by RST. It means the application does not accept() fast enough. A listener with TCP_DEFER_ACCEPT (Apache's default AcceptFilter on Linux) also ignores a pure third ACK and repeats its SYN-ACK when the client sends no data: the wire cannot tell the two apart, and the detail gives the time between the ACK and the repeat (a defer-accept repeat comes after its configured seconds).",
            "A pure ACK completed the handshake for the initiator, and later the responder sent its SYN-ACK again (same ISN) from its retransmission timer (at least 0.9 s after its first SYN-ACK), not in answer to a repeated SYN. If the responder then answers the initiator's data with RST having acknowledged none of it, the request expired: half_open (ended_by accept_queue_overflow), not an abort of an established connection.",
            "",
        ),
        IcmpError => (
            "A router or the destination host answered one of this connection's segments with an ICMP (or ICMPv6) error: time exceeded (a routing loop, or a TTL too small), destination unreachable (no route, administratively prohibited, port unreachable), fragmentation needed or packet too big (path MTU discovery).",
            "The segment never reached the peer: a SYN answered this way fails the connect() (Linux tcp_v4_err ends a SYN-SENT socket on it) and is not an unanswered attempt; fragmentation-needed and packet-too-big errors that keep coming point to a path MTU black hole.",
            "An ICMP type 3, 11 or 12 (ICMPv6 type 1 to 4) message whose quoted datagram is TCP, whose quoted four-tuple is a tracked connection's and whose quoted sequence number lies between the sending side's ISN and its SND.NXT (RFC 5927 §4.1). The detail names the type and code, the reporting router's address, which side's segment it quoted, the quoted sequence number (and flags when 14 or more bytes were quoted) and the MTU it announced. The summary counts every such error as linked or unlinked (icmp_errors); they are not counted as non-TCP ICMP. The listener rules count an attempt answered by ICMP as answered. Zeek's conn_state and history ignore ICMP, as Zeek does.",
            "",
        ),
        SessionCookieCleartext => (
            "A cookie that identifies a session was sent over plain HTTP, by the server (Set-Cookie) or by the client (Cookie).",
            "HTTP is stateless: each request stands alone, so a server that must remember a client (a login, a basket) hands it a cookie and keys its state on the value. Whoever presents that value is the session. Over cleartext HTTP the value can be read by anyone on the path (a shared Wi-Fi, a tap) and replayed to impersonate the user: session side-jacking.",
            "With --app, on HTTP/1.x parsed from the reassembled streams: a cookie is a session id when its name is a conventional session name (JSESSIONID, PHPSESSID, ASP.NET_SessionId, ASPSESSIONID*, connect.sid, session, sessionid, sid) or when a server set it (Set-Cookie) and a client sent the same value back. Reported once per value, on the first transaction that carried it in the clear; the detail names the cookie, the host and the header. Values are never printed, only compared through a keyed hash.",
            "--app",
        ),
        SessionCookieInsecure => (
            "A server set a session cookie without the Secure attribute (so browsers also send it over plain HTTP) or without HttpOnly (so page scripts, and injected ones, can read it).",
            "Secure keeps the cookie off cleartext connections; HttpOnly keeps it away from JavaScript, the usual target of cross-site scripting that steals sessions. Missing either makes session theft easier.",
            "With --app: a Set-Cookie whose cookie is a session id by name, lacking Secure or HttpOnly. Reported once per host and cookie name; the detail says which attributes are present and the SameSite value.",
            "--app",
        ),
        CookieTooLarge => (
            "A Cookie or Set-Cookie header carried a single cookie larger than 4,096 bytes.",
            "RFC 6265 §6.1 asks browsers to keep cookies of at least 4,096 bytes, and most keep no more: a larger cookie is silently dropped or truncated, so the state it carries is lost; large cookies also inflate every request to the site.",
            "With --app: the cookie's name=value (and, for Set-Cookie, its attributes as sent) exceeds 4,096 bytes. Reported on each transaction that carries one; the detail gives the size and the header.",
            "--app",
        ),
        SessionHijackSuspected => (
            "The same session cookie value was presented by two different client addresses.",
            "A session belongs to one client; its value appearing from another address is what replaying a stolen cookie looks like (session hijacking). Benign causes exist: a client that changed address (mobile networks, NAT pools, a VPN switching on).",
            "With --app: per session (cookie name and value hash), the client address of every request that carries it is remembered; the first request from an address other than the first is reported, once per session, with both addresses and the frame where the session was first seen.",
            "--app",
        ),
        PredictableIsn => (
            "One host chose initial sequence numbers another host could guess: the same number, zero, or small steps across connections to different four-tuples.",
            "An ISN is a secret that keeps off-path attackers out of a connection: whoever can guess it can inject data or RSTs, or spoof a whole connection from a trusted address (RFC 6528, after Morris 1985 and Mitnick 1994). RFC 6528 makes it ISN = M + F: M a clock (Linux ticks every 64 ns, not the 4 µs of RFC 793 or the 4 ms some notes quote), F a keyed hash of the four-tuple, so ISNs on one four-tuple follow the clock and ISNs on different four-tuples look random. A constant or stepping ISN across four-tuples is a hand-made or broken stack: a scanner (hping3 -M, masscan), an embedded TCP, or a load balancer or SYN proxy answering for many servers.",
            "Per sending host (at most 4,096, then new hosts are not tracked), from the first copy of every SYN and SYN-ACK: each ISN is compared with the host's previous one on a different four-tuple. A step is predictable when the new ISN lies 0 to 2^20 - 1 above the previous one (a clock without a hash, a counter, or the same number; a keyed hash lands there once in 4,096 pairs), and an ISN of 0 counts too. Raised once per host when at least 3 of its steps are predictable and they are at least three quarters of its steps; the detail gives the host, isns, steps, predictable_steps, constant_steps, zero_isns, max_predictable_step and the first ISNs. Incarnations of the same four-tuple are compared apart: they estimate the host's ISN clock instead (summary isn_hosts: clock_rate_per_s and tick_ns, from the ISN step over the time between the SYNs).",
            "",
        ),
        RetransmissionGiveup => (
            "A sender retransmitted the same unacknowledged segment (data, FIN or its SYN) with a growing timeout, then stopped and went silent, or reset the connection: its retransmission timer gave up.",
            "The application behind it got an error (ETIMEDOUT on Linux) and the connection is gone for it, while the peer may still hold it open. How long a sender tries is a setting: Linux retransmits data until tcp_retries2 (15 by default: about 924.6 s with a 200 ms minimum RTO, the timeout doubling up to 120 s) and SYNs until tcp_syn_retries; a sender that gives up after a few seconds has a lowered tcp_retries2, a TCP_USER_TIMEOUT or an application deadline. The gaps between copies show the back-off (RFC 6298 §5.5): each about twice the one before.",
            "At the end of the record: a side's latest retransmitted segment (data, a FIN, or the initiator's SYN; at least 3 copies, the original included, all of the same sequence number) was never acknowledged after its last copy, and that side then sent nothing for at least twice its last gap (the next, doubled timeout would have fired) before the record ended, or sent a RST. A responder that stops repeating an unanswered SYN-ACK gave its half-open request up: that is half_open (and, by the hundred, a SYN flood), not this. Not on one-sided captures. Reported at the last copy's frame; the detail gives from, what (data, fin, syn), seq, copies, first_copy_frame, gaps, first (the original's time), last_copy, span (original to last copy), silent_for, ended_by (silence or rst) and, for data, linux_tcp_retries2 (the range of tcp_retries2 values under which Linux, with a 200 ms RTO base, would give up exactly there) and linux_default_giveup (924.6 s). The series is also on the record (retransmission_backoff, syn_backoff).",
            "",
        ),
        FinalAckLost => (
            "The passive closer, in LAST-ACK, sent its FIN again, and the active closer, in TIME-WAIT, acknowledged it again: the first ACK of that FIN never arrived.",
            "This is what TIME-WAIT is for, first of all: the active closer cannot know whether its last ACK arrived, so it stays for 2*MSL to answer a repeated FIN (one MSL for its ACK to die out, one for the repeated FIN), and restarts its 2*MSL timer when it does (RFC 9293 §3.10.7.4: \"acknowledge it, and restart the 2 MSL timeout\"). Without TIME-WAIT the FIN would have met a RST and the passive closer's application an error. One such story is benign; many point to loss of small segments on the path (a firewall dropping pure ACKs, for instance).",
            "A FIN from a side that had already sent the same FIN (no new data), reaching a peer in TIME-WAIT, followed by that peer's ACK of it. Reported once per connection when the ACK comes (or at the end, with answer none); the detail gives from, fin_frame (the first FIN), repeat_frame, repeat_after (time from the first FIN), first_ack_frame (the ACK the capture saw before the repeat: it was lost after the capture point; null when it was not captured), answer_frame and time_wait_until (the answer's time plus 2*MSL: the restarted TIME-WAIT's end, also the record's time_wait_until). The repeated FIN and the answering ACK are not also reported as retransmission and duplicate_ack; the record still counts them as Wireshark classifies them.",
            "--msl",
        ),
        BadDataOffset => (
            "A TCP header's data offset, the field saying how long the header is in 32-bit words, was below 5 (the fixed header alone is 20 bytes) or pointed past the end of the segment the IP header declares.",
            "The header length is what separates the options from the data (RFC 9293 §3.1): with a wrong one nothing after the fixed 20 bytes can be read, and the receiver drops the segment (Linux counts it in TcpInErrs). No working stack sends it: it is corruption, a broken middlebox, a fuzzer or a crafted probe (hping3 -O), and a device that does read such a segment sees a different connection from the endpoints.",
            "The decoder finds the offset below 5, or the header it claims longer than the TCP length the IP header declares. The segment is counted in the summary's skipped frames (tcp_bad_header), as every frame that yields no segment is, and, when its four-tuple belongs to a tracked connection, tied to it: the side's bad_data_offsets counts it and this anomaly names the frame, the offset, the header length it claims, the TCP length and why it is wrong (below_minimum, beyond_segment). Its flags and numbers are not believed: no state changes.",
            "",
        ),
        EcnCongestion => (
            "A router on the way to the capture point set Congestion Experienced (CE) in the IP header of this connection's ECN-capable packets.",
            "With ECN (RFC 3168) a congested router marks packets instead of dropping them: the receiver echoes the mark with ECE on its ACKs, and the sender halves its congestion window once per round trip and says so with CWR. The transfer slows down without a loss or a retransmission timeout; a connection that keeps getting marks runs through a congested queue.",
            "Segments whose IP ECN field is CE (3). Reported once, at the first marked segment, with the side whose packets were marked, how many were, whether ECN was negotiated on the SYN and SYN-ACK, how many ACKs of the receiver carried ECE and how many segments of the sender carried CWR. Each side's ip_ect, ip_ce, ece and cwr counts are on the record.",
            "",
        ),
        EcnEchoMissing => (
            "Packets of one side arrived marked Congestion Experienced, ECN was negotiated, and the other side never set ECE on an ACK afterwards.",
            "The echo is how the sender learns of the congestion (RFC 3168 §6.1.3): without it the sender keeps its rate while the router keeps marking, and ECN only makes the queue longer. It means a middlebox clearing TCP flags, or a receiver stack whose ECN is broken.",
            "At the end of the connection: some of the side's segments arrived with CE, and no segment of the peer other than its SYN or SYN-ACK carried ECE, although the peer sent ACKs after the first CE mark, and both SYN and SYN-ACK negotiated ECN. A capture taken before the marking router sees no CE and raises nothing. A connection that negotiated Accurate ECN (RFC 9768: its SYN-ACK answers with another combination of AE, CWR and ECE) echoes marks with a counter in those three bits, not with ECE alone, and is not judged.",
            "",
        ),
        ReceiveWindowLimited => (
            "The sender stopped at the edge of the window the receiver offered, again and again: its bytes in flight left no room for another full segment in that window, in several round trips.",
            "A sender can have at most one window of data unacknowledged, so throughput is at most window / RTT whatever the path can carry. The 16-bit window field caps the window at 65,535 bytes unless both sides negotiate window scaling (RFC 7323): 65,535 bytes per 50 ms is 1.3 MB/s, per 100 ms 5 Mbit/s. The cure is at the receiver (a larger receive buffer, window scaling on, an application that reads faster), not in the network.",
            "Per data segment, measured at the capture point: the sender's bytes in flight after it (SND.NXT minus the receiver's latest ACK) plus its largest segment exceed the receiver's latest scaled window. Counted once per round trip (the sender's smoothed RTT, else the handshake's); reported at the end of a connection whose SYN and SYN-ACK were both seen (otherwise the window scale is unknown) when that happened in at least 3 round trips and the best round trip's throughput (the mean when the transfer took less than one, or when the interval it was measured over is under half the RTT) reached at least half of window / RTT (a sender far below it was held back by something else, such as its application), at the first such segment. The detail gives the window, whether scaling was negotiated, the RTT, window / RTT, the throughput achieved (mean and best round trip), the fastest burst the sender sent back to back, and the bandwidth-delay product (that burst rate times the RTT) a window would have needed to keep the path busy. Bytes in flight show only where the capture sees data before its ACKs: at the sender or on the path, not at the receiver.",
            "",
        ),
    };
    Explanation {
        meaning,
        why,
        rule,
        tuning,
    }
}

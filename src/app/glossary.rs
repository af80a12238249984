//! What the other words on a record mean, for `tcpaudit explain`: the RFC 9293 states each
//! endpoint is in (`orig_state`, `resp_state`, the ladders), Zeek's `conn_state` codes and
//! Zeek's `history` letters.

use crate::tcp::TcpState;

/// An RFC 9293 state: what the endpoint is doing there and how it leaves.
fn state(s: TcpState) -> &'static str {
    match s {
        TcpState::Closed => {
            "No connection. An endpoint starts here before its SYN (the initiator) and ends here \
             after LAST-ACK, after TIME-WAIT's 2*MSL, or on a RST."
        }
        TcpState::Listen => {
            "Waiting for a SYN (a server socket). The responder of a connection is taken to have \
             been listening when the initiator's SYN is captured."
        }
        TcpState::SynSent => {
            "The initiator sent its SYN and waits for the SYN-ACK (RFC 9293 §3.5). Repeated SYNs \
             here are syn_retransmission; a RST answer is connection_refused."
        }
        TcpState::SynReceived => {
            "The responder got the SYN and sent its SYN-ACK; it waits for the third ACK. A \
             connection that stays here is half-open (half_open; many of them: \
             half_open_backlog, syn_flood)."
        }
        TcpState::Established => "Both SYNs acknowledged: data flows both ways.",
        TcpState::FinWait1 => {
            "This endpoint closed first (sent FIN: the active closer) and waits for that FIN to be \
             acknowledged."
        }
        TcpState::FinWait2 => {
            "The active closer's FIN was acknowledged; it waits for the other side's FIN (the \
             other side may still send data: half_close)."
        }
        TcpState::CloseWait => {
            "The other side closed (its FIN arrived); this endpoint has not closed yet. An \
             application that never closes stays here (close_wait_stuck)."
        }
        TcpState::Closing => {
            "Both sides sent FIN before seeing the other's acknowledged: a simultaneous close \
             (simultaneous_close); next TIME-WAIT."
        }
        TcpState::LastAck => {
            "The passive closer sent its FIN after the other side's and waits for its \
             acknowledgment; then CLOSED."
        }
        TcpState::TimeWait => {
            "The active closer acknowledged the other side's FIN and waits 2*MSL (60 s by \
             default, as on Linux; --msl sets MSL) so that old segments die out before the \
             four-tuple is used again (premature_reuse_2msl, timewait_assassination)."
        }
    }
}

/// Zeek's `conn_state` codes, with the meaning Zeek's documentation gives them.
const CONN_STATES: [(&str, &str); 13] = [
    ("S0", "Connection attempt seen, no reply."),
    ("S1", "Connection established, not terminated."),
    ("SF", "Normal establishment and termination."),
    (
        "REJ",
        "Connection attempt rejected (RST answering the SYN).",
    ),
    (
        "S2",
        "Connection established and close attempt by the originator seen (but no reply from the responder).",
    ),
    (
        "S3",
        "Connection established and close attempt by the responder seen (but no reply from the originator).",
    ),
    (
        "RSTO",
        "Connection established, the originator aborted (sent a RST).",
    ),
    ("RSTR", "The responder sent a RST."),
    (
        "RSTOS0",
        "The originator sent a SYN followed by a RST; no SYN-ACK from the responder was seen.",
    ),
    (
        "RSTRH",
        "The responder sent a SYN-ACK followed by a RST; no SYN from the (purported) originator was seen.",
    ),
    (
        "SH",
        "The originator sent a SYN followed by a FIN; no SYN-ACK from the responder was seen (\"half\" open).",
    ),
    (
        "SHR",
        "The responder sent a SYN-ACK followed by a FIN; no SYN from the originator was seen.",
    ),
    (
        "OTH",
        "No SYN seen, just midstream traffic (a connection picked up after it started).",
    ),
];

/// Zeek's `history` letters: uppercase when the originator did it, lowercase the responder.
const HISTORY: [(char, &str); 13] = [
    ('S', "a SYN without the ACK bit"),
    ('H', "a SYN-ACK (\"handshake\")"),
    ('A', "a pure ACK"),
    ('D', "a segment with payload (\"data\")"),
    ('F', "a segment with FIN"),
    ('R', "a segment with RST"),
    (
        'C',
        "a segment with a bad checksum (with --verify-checksums)",
    ),
    ('G', "a content gap (bytes the capture never showed)"),
    ('T', "a segment with retransmitted payload"),
    ('W', "a segment advertising a zero window"),
    ('I', "an inconsistent segment (FIN and RST together)"),
    ('Q', "a multi-flag segment (SYN with FIN or RST)"),
    (
        '^',
        "(first letter) the roles were flipped: the first segment seen came from the responder",
    ),
];

/// What `term` means, when it is a state, a `conn_state` code, a history letter, or one of
/// `states`, `conn_state`, `history` (the whole list).
pub fn lookup(term: &str) -> Option<String> {
    let t = term.trim();
    let key = t.to_ascii_uppercase().replace('_', "-");
    match t.to_ascii_lowercase().as_str() {
        "states" | "state" | "rfc-states" => return Some(all_states()),
        "conn_state" | "conn-state" | "conn_states" => return Some(all_conn_states()),
        "history" => return Some(all_history()),
        _ => {}
    }
    if let Some(s) = TcpState::ALL.iter().find(|s| s.name() == key) {
        return Some(format!(
            "{}: an RFC 9293 state\n\n{}",
            s.name(),
            wrap(state(*s), 0)
        ));
    }
    if let Some((code, what)) = CONN_STATES.iter().find(|(c, _)| *c == key) {
        return Some(format!(
            "{code}: a Zeek conn_state code\n\n{}",
            wrap(what, 0)
        ));
    }
    let mut chars = t.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && let Some((letter, what)) = HISTORY.iter().find(|(l, _)| *l == c.to_ascii_uppercase())
    {
        let who = if c == '^' {
            String::new()
        } else if c.is_ascii_uppercase() {
            format!(
                ", the originator's ({} is the responder's)",
                c.to_ascii_lowercase()
            )
        } else {
            format!(", the responder's ({letter} is the originator's)")
        };
        return Some(format!(
            "{c}: a Zeek history letter{who}\n\n{}\n{}",
            wrap(what, 0),
            wrap(HISTORY_NOTE, 0)
        ));
    }
    None
}

/// How history letters repeat.
const HISTORY_NOTE: &str = "A letter appears once per direction, except C, G, T and W, which \
     appear again at the 10th, 100th, 1000th ... occurrence.";

/// Terminal width the text is wrapped to.
const WIDTH: usize = 80;

/// `text` wrapped to [`WIDTH`] columns, every line but the first indented by `indent`, ending
/// with a newline.
fn wrap(text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 && col + 1 + word.len() > WIDTH {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', indent));
            col = indent;
        } else if i > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += word.len();
    }
    out.push('\n');
    out
}

/// A list of terms and their meanings, the meanings in a column of their own.
fn list<'a>(title: &str, rows: impl Iterator<Item = (String, &'a str)>, note: &str) -> String {
    let rows: Vec<(String, &str)> = rows.collect();
    let w = rows.iter().map(|(t, _)| t.len()).max().unwrap_or(0) + 2;
    let mut s = wrap(title, 0) + "\n";
    for (term, what) in rows {
        s += &format!("{term:<w$}{}", wrap(what, w));
    }
    if !note.is_empty() {
        s += &format!("\n{}", wrap(note, 0));
    }
    s
}

fn all_states() -> String {
    list(
        "RFC 9293 states (orig_state and resp_state, the ladders):",
        TcpState::ALL
            .iter()
            .map(|s| (s.name().to_string(), state(*s))),
        "",
    )
}

fn all_conn_states() -> String {
    list(
        "Zeek conn_state codes (conn_state):",
        CONN_STATES.iter().map(|(c, w)| (c.to_string(), *w)),
        "",
    )
}

fn all_history() -> String {
    list(
        "Zeek history letters (history): uppercase when the originator did it, lowercase the \
         responder.",
        HISTORY.iter().map(|(l, w)| (l.to_string(), *w)),
        HISTORY_NOTE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_code_and_letter_is_explained() {
        for st in TcpState::ALL {
            assert!(lookup(st.name()).is_some(), "{}", st.name());
            assert!(lookup(&st.name().to_lowercase().replace('-', "_")).is_some());
        }
        for (code, _) in CONN_STATES {
            assert!(lookup(code).unwrap().contains("Zeek conn_state"));
        }
        assert!(lookup("d").unwrap().contains("the responder"));
        assert!(lookup("D").unwrap().contains("the originator"));
        assert!(lookup("^").unwrap().contains("flipped"));
        for list in ["states", "conn_state", "history"] {
            assert!(lookup(list).unwrap().lines().count() > 10, "{list}");
        }
        assert_eq!(lookup("z"), None);
        assert_eq!(lookup("syn_flood"), None);
    }
}

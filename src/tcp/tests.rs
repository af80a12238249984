//! The state machine, one endpoint state at a time: `<state>_<event>` names, segments built in
//! virtual time. Client ISN 100, server ISN 500.

use super::{Machine, MachineEvent, TcpState::*};
use crate::testutil::{c2s, s2c};
use crate::wire::Segment;
use crate::wire::Side::{Orig, Resp};

struct Run {
    m: Machine,
    unexpected: Vec<(crate::wire::Side, super::TcpState)>,
}

impl Run {
    fn new(first: &Segment<'_>) -> Self {
        Run {
            m: Machine::new(first),
            unexpected: Vec::new(),
        }
    }
    fn send(&mut self, s: Segment<'_>) -> super::SegFacts {
        let from = if (s.src, s.sport) == crate::testutil::A {
            Orig
        } else {
            Resp
        };
        let unexpected = &mut self.unexpected;
        self.m.on_segment(&s, from, false, &mut |e| {
            if let MachineEvent::Unexpected { side, state, .. } = e {
                unexpected.push((side, state));
            }
        })
    }
    fn states(&self) -> (super::TcpState, super::TcpState) {
        (self.m.end(Orig).state, self.m.end(Resp).state)
    }
}

/// A connection driven through the handshake.
fn established() -> Run {
    let syn = c2s(0, "S", 100, 0, 0);
    let mut r = Run::new(&syn);
    r.send(syn);
    r.send(s2c(10, "SA", 500, 101, 0));
    r.send(c2s(20, "A", 101, 501, 0));
    r
}

#[test]
fn closed_syn_enters_syn_sent_and_listen_waits() {
    let syn = c2s(0, "S", 100, 0, 0);
    let mut r = Run::new(&syn);
    assert_eq!(r.states(), (Closed, Listen));
    r.send(syn);
    assert_eq!(r.states(), (SynSent, Listen));
}

#[test]
fn listen_synack_enters_syn_received() {
    let syn = c2s(0, "S", 100, 0, 0);
    let mut r = Run::new(&syn);
    r.send(syn);
    r.send(s2c(10, "SA", 500, 101, 0));
    // The client moves only when it answers: a spoofed client never does.
    assert_eq!(r.states(), (SynSent, SynReceived));
}

#[test]
fn syn_sent_ack_enters_established_and_syn_received_follows() {
    let r = established();
    assert_eq!(r.states(), (Established, Established));
}

#[test]
fn syn_received_data_completes_implicitly() {
    let syn = c2s(0, "S", 100, 0, 0);
    let mut r = Run::new(&syn);
    r.send(syn);
    r.send(s2c(10, "SA", 500, 101, 0));
    r.send(c2s(20, "PA", 101, 501, 50));
    assert_eq!(r.states(), (Established, Established));
}

#[test]
fn syn_sent_acceptable_rst_closes() {
    let syn = c2s(0, "S", 100, 0, 0);
    let mut r = Run::new(&syn);
    r.send(syn);
    r.send(s2c(10, "RA", 0, 101, 0));
    assert_eq!(r.states(), (Closed, Closed));
    assert!(r.unexpected.is_empty());
}

#[test]
fn syn_sent_unacceptable_rst_is_unexpected() {
    let syn = c2s(0, "S", 100, 0, 0);
    let mut r = Run::new(&syn);
    r.send(syn);
    r.send(s2c(10, "R", 7, 0, 0));
    assert_eq!(r.m.end(Orig).state, SynSent);
    assert_eq!(r.unexpected, vec![(Orig, SynSent)]);
}

#[test]
fn syn_sent_syn_is_simultaneous_open() {
    let syn = c2s(0, "S", 100, 0, 0);
    let mut r = Run::new(&syn);
    r.send(syn);
    r.send(s2c(1, "S", 500, 0, 0));
    assert_eq!(r.states(), (SynSent, SynSent));
    r.send(c2s(2, "SA", 100, 501, 0));
    assert_eq!(r.states(), (SynReceived, SynSent));
    r.send(s2c(3, "SA", 500, 101, 0));
    assert_eq!(r.states(), (Established, Established));
    r.send(c2s(4, "A", 101, 501, 0));
    r.send(s2c(5, "A", 501, 101, 0));
    assert_eq!(r.states(), (Established, Established));
}

#[test]
fn syn_received_rst_returns_passive_end_to_listen() {
    let syn = c2s(0, "S", 100, 0, 0);
    let mut r = Run::new(&syn);
    r.send(syn);
    r.send(s2c(10, "SA", 500, 101, 0));
    r.send(c2s(20, "R", 101, 0, 0));
    assert_eq!(r.states(), (Closed, Listen));
}

#[test]
fn established_fin_then_ack_is_fin_wait_2_and_close_wait() {
    let mut r = established();
    r.send(c2s(30, "FA", 101, 501, 0));
    assert_eq!(
        r.states(),
        (FinWait1, Established),
        "the receiver moves when it answers"
    );
    r.send(s2c(40, "A", 501, 102, 0));
    assert_eq!(r.states(), (FinWait2, CloseWait));
}

#[test]
fn close_wait_fin_is_last_ack_then_closed_and_time_wait() {
    let mut r = established();
    r.send(c2s(30, "FA", 101, 501, 0));
    r.send(s2c(40, "A", 501, 102, 0));
    r.send(s2c(50, "FA", 501, 102, 0));
    assert_eq!(r.states(), (FinWait2, LastAck));
    r.send(c2s(60, "A", 102, 502, 0));
    assert_eq!(r.states(), (TimeWait, Closed));
}

#[test]
fn established_fin_ack_in_one_segment_goes_to_last_ack() {
    let mut r = established();
    r.send(c2s(30, "FA", 101, 501, 0));
    r.send(s2c(40, "FA", 501, 102, 0));
    assert_eq!(r.states(), (FinWait2, LastAck));
    r.send(c2s(50, "A", 102, 502, 0));
    assert_eq!(r.states(), (TimeWait, Closed));
}

#[test]
fn fin_wait_1_crossing_fins_is_closing_then_time_wait_on_both_sides() {
    let mut r = established();
    r.send(c2s(30, "FA", 101, 501, 0));
    r.send(s2c(31, "FA", 501, 101, 0));
    assert_eq!(r.states(), (FinWait1, FinWait1));
    r.send(c2s(40, "A", 102, 502, 0));
    assert_eq!(r.states(), (Closing, FinWait2));
    r.send(s2c(41, "A", 502, 102, 0));
    assert_eq!(r.states(), (TimeWait, TimeWait));
}

#[test]
fn established_exact_rst_closes_both() {
    let mut r = established();
    let f = r.send(c2s(30, "R", 101, 0, 0));
    assert_eq!(f.rst_fit, Some(super::RstFit::Exact));
    assert_eq!(r.states(), (Closed, Closed));
}

#[test]
fn established_in_window_rst_is_challenged_not_accepted() {
    let mut r = established();
    let f = r.send(c2s(30, "R", 1101, 0, 0));
    assert_eq!(f.rst_fit, Some(super::RstFit::InWindow));
    assert_eq!(r.states(), (Closed, Established));
}

#[test]
fn established_out_of_window_rst_is_dropped() {
    let mut r = established();
    let f = r.send(c2s(30, "R", 100 + 200_000, 0, 0));
    assert_eq!(f.rst_fit, Some(super::RstFit::OutOfWindow));
    assert_eq!(r.m.end(Resp).state, Established);
}

#[test]
fn time_wait_exact_rst_is_accepted_as_linux_does() {
    let mut r = established();
    r.send(c2s(30, "FA", 101, 501, 0));
    r.send(s2c(40, "FA", 501, 102, 0));
    r.send(c2s(50, "A", 102, 502, 0));
    assert_eq!(r.m.end(Orig).state, TimeWait);
    r.send(s2c(60, "R", 502, 0, 0));
    assert_eq!(r.m.end(Orig).state, Closed);
}

#[test]
fn closed_data_is_unexpected() {
    let mut r = established();
    r.send(c2s(30, "R", 101, 0, 0));
    r.send(s2c(40, "PA", 501, 101, 10));
    assert_eq!(r.unexpected, vec![(Orig, Closed)]);
}

#[test]
fn listen_ack_and_invalid_flags_are_unexpected() {
    let ack = c2s(0, "A", 100, 7, 0);
    let mut r = Run::new(&ack);
    r.send(ack);
    assert_eq!(
        r.states(),
        (Established, Established),
        "midstream connections start established"
    );
    let probe = c2s(0, "FPU", 100, 0, 0);
    let mut r = Run::new(&probe);
    r.send(probe);
    assert_eq!(r.unexpected, vec![(Resp, Listen)]);
}

#[test]
fn syn_sent_fin_acking_the_synack_establishes_then_closes() {
    let syn = c2s(0, "S", 100, 0, 0);
    let mut r = Run::new(&syn);
    r.send(syn);
    r.send(s2c(10, "SA", 500, 101, 0));
    r.send(c2s(20, "FA", 101, 501, 0));
    assert_eq!(r.states(), (FinWait1, Established));
}

#[test]
fn time_wait_retransmitted_fin_restarts_the_timer() {
    let mut r = established();
    r.send(c2s(30, "FA", 101, 501, 0));
    r.send(s2c(40, "FA", 501, 102, 0));
    r.send(c2s(50, "A", 102, 502, 0));
    let before = r.m.end(Orig).since;
    r.send(s2c(900, "FA", 501, 102, 0));
    assert_eq!(r.m.end(Orig).state, TimeWait);
    assert!(r.m.end(Orig).since > before);
}

#[test]
fn established_syn_is_challenged_not_a_transition() {
    let mut r = established();
    r.send(c2s(30, "S", 100, 0, 0));
    assert_eq!(r.states(), (Established, Established));
    assert!(r.unexpected.is_empty());
}

#[test]
fn time_wait_superseded_by_a_new_incarnation_closes() {
    let mut r = established();
    r.send(c2s(30, "FA", 101, 501, 0));
    r.send(s2c(40, "FA", 501, 102, 0));
    r.send(c2s(50, "A", 102, 502, 0));
    let mut n = 0;
    r.m.supersede(crate::time::Timestamp::from_nanos(60), &mut |_| n += 1);
    assert_eq!(r.states(), (Closed, Closed));
    assert_eq!(n, 1);
}

#[test]
fn closed_passive_end_answers_a_new_syn_as_its_listener() {
    let mut r = established();
    r.send(s2c(30, "FA", 501, 101, 0));
    r.send(c2s(40, "FA", 101, 502, 0));
    r.send(s2c(50, "A", 502, 102, 0));
    assert_eq!(r.states(), (Closed, TimeWait));
    r.send(s2c(60, "R", 502, 0, 0));
    let syn = c2s(70, "S", 100, 0, 0);
    r.unexpected.clear();
    r.send(syn);
    assert!(r.unexpected.is_empty(), "{:?}", r.unexpected);
}

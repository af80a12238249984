//! Anomaly detection: one file per family, each rule named by its stable id and citing its
//! source. Connection rules ([`ConnRules`]) run on every segment after the state machine, and
//! once when the connection ends; they read the connection through a [`ConnView`] and count
//! what they find in its [`Tally`]. Listener rules ([`flood`]) aggregate over time per
//! listening endpoint; [`reuse`] judges a new incarnation against the previous one.

mod anomaly;
mod backoff;
mod explain;
pub mod final_ack;
pub mod flood;
mod handshake;
pub mod isn;
mod judge;
mod keepalive;
mod kind;
pub mod reuse;
mod rules;
mod sanity;
mod segment;
pub mod segment_classes;
pub mod session;
pub mod signals;
mod tally;
mod teardown;
mod view;

#[cfg(test)]
pub(crate) use anomaly::BUILT;
pub use anomaly::{Anomaly, Detail, Value, secs_f64};
pub use explain::{Explanation, explain};
pub use flood::{ListenerConfig, ListenerLoad, ListenerTracker};
pub use handshake::Repeats;
pub use judge::Judge;
pub use kind::{AnomalyKind, Scope, Severity};
pub use rules::ConnRules;
pub use sanity::{IpIdModel, icmp_error};
pub use session::Sessions;
pub use signals::bad_data_offset;
pub use tally::{Owner, Tally};
pub use view::{ConnView, Step};

use crate::time::Duration;

/// Thresholds of the connection rules. Defaults are documented with their sources in
/// `tcpaudit explain`.
#[derive(Clone, Copy, Debug)]
pub struct DetectConfig {
    /// Maximum segment lifetime: TIME-WAIT lasts 2*MSL (RFC 9293 §3.4.2).
    pub msl: Duration,
    /// Time in CLOSE-WAIT after which `close_wait_stuck` is raised while the capture goes on
    /// (default 60 s, the mirror image of Linux's `tcp_fin_timeout` for FIN-WAIT-2).
    pub close_wait_timeout: Duration,
    /// Time in CLOSE-WAIT at the end of the capture that counts as stuck (default 1 s).
    pub close_wait_at_end: Duration,
    /// TTL difference from a direction's first TTL tolerated before `ttl_anomaly` (default 1).
    pub ttl_tolerance: u8,
    /// Unanswered keep-alive probes after which ending the connection is `keepalive_timeout`
    /// (default 2; Linux gives up after `tcp_keepalive_probes` = 9).
    pub keepalive_unanswered: u32,
    /// Zeek's `likely_server_ports`, which orient connections that do not start with a SYN in
    /// the Zeek-compatible `conn_state` and `history` (default: Zeek's default scripts).
    pub zeek_server_ports: &'static [u16],
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            msl: Duration::from_secs(30),
            close_wait_timeout: Duration::from_secs(60),
            close_wait_at_end: Duration::from_secs(1),
            ttl_tolerance: 1,
            keepalive_unanswered: 2,
            zeek_server_ports: crate::compat::LIKELY_SERVER_PORTS,
        }
    }
}

impl DetectConfig {
    /// How long TIME-WAIT lasts: 2*MSL (RFC 9293 §3.4.2).
    pub const fn two_msl(&self) -> Duration {
        self.msl.saturating_mul(2)
    }
}

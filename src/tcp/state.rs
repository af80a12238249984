//! RFC 9293 connection states (§3.3.2), spelled as the RFC spells them.

use std::fmt;

/// The state of one endpoint of a connection, as inferred from the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// No connection state at all.
    Closed,
    /// Waiting for a connection request (a passive open).
    Listen,
    /// Sent a connection request (SYN), waiting for a matching one.
    SynSent,
    /// Received and sent a connection request, waiting for its acknowledgment.
    SynReceived,
    /// An open connection: data can flow both ways.
    Established,
    /// Sent FIN, waiting for its acknowledgment or the peer's FIN.
    FinWait1,
    /// Own FIN acknowledged, waiting for the peer's FIN.
    FinWait2,
    /// Received the peer's FIN, waiting for the local application to close.
    CloseWait,
    /// Both sent FIN before seeing the other's; waiting for the acknowledgment of its own.
    Closing,
    /// Received the peer's FIN and sent its own, waiting for the acknowledgment.
    LastAck,
    /// Closed actively; waiting 2*MSL so old duplicates die out (RFC 9293 §3.4.2).
    TimeWait,
}

crate::base::pack::pack_enum!(TcpState {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait
});

impl TcpState {
    /// The RFC spelling (`SYN-RECEIVED`, `FIN-WAIT-1`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynReceived => "SYN-RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST-ACK",
            TcpState::TimeWait => "TIME-WAIT",
        }
    }

    /// Every state, in RFC 9293's order.
    pub const ALL: [TcpState; 11] = [
        TcpState::Closed,
        TcpState::Listen,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    /// The state with this RFC spelling (`TIME-WAIT`), if any.
    pub fn from_name(name: &str) -> Option<TcpState> {
        TcpState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Synchronized states (RFC 9293 §3.5.2): the handshake has completed for this endpoint.
    pub const fn is_synchronized(self) -> bool {
        matches!(
            self,
            TcpState::Established
                | TcpState::FinWait1
                | TcpState::FinWait2
                | TcpState::CloseWait
                | TcpState::Closing
                | TcpState::LastAck
                | TcpState::TimeWait
        )
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

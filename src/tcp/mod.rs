//! The reference TCP model (RFC 9293), replayed for both endpoints from the wire: the state
//! machine, what each half of the connection sent, handshake timing, stream reassembly and
//! transfer metrics (RTT, windows, flight).

mod ahead;
pub mod backoff;
mod half;
mod handshake;
mod machine;
pub mod metrics;
pub mod reassembly;
pub mod signals;
mod state;
#[cfg(test)]
mod tests;
pub mod throughput;

pub use half::{Half, HalfRare, SentCtx, SynOptions, account_sent};
pub use handshake::Handshake;
pub use machine::{EndState, Machine, MachineEvent, RstFit, SegClass, SegFacts};
pub use state::TcpState;

//! The reference TCP state machine (RFC 9293), replayed for both endpoints from the wire.

mod machine;
pub mod metrics;
pub mod reassembly;
mod state;
#[cfg(test)]
mod tests;

pub use machine::{EndState, Machine, MachineEvent, RstFit, SegClass, SegFacts};
pub use state::TcpState;

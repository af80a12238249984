//! Connection tracking: a direction-free four-tuple key, one [`Connection`] record per
//! incarnation, and a bounded [`FlowTable`] whose timers run on packet time.

mod conn;
mod key;
mod table;
#[cfg(test)]
mod tests;

pub use conn::{Connection, EndReason, Half, Handshake, ReasmCtx, SynOptions};
pub use key::{Endpoint, FlowKey, Side};
pub use table::{FlowConfig, FlowStats, FlowTable};

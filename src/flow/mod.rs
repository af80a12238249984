//! Connection tracking: a direction-free four-tuple key, one [`Connection`] record per
//! incarnation, and a bounded [`FlowTable`] whose timers run on packet time.

mod conn;
mod table;
#[cfg(test)]
mod tests;

pub use crate::wire::{Endpoint, FlowKey, Side};
pub use conn::{Connection, EndReason, Half, Handshake, ReasmCtx, SynOptions};
pub use table::{FlowConfig, FlowStats, FlowTable};

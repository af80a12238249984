//! Connection tracking: one [`Connection`] per incarnation of a four-tuple, the
//! [`ConnRecord`] it builds and hands out when it ends, and a bounded [`FlowTable`] whose
//! timers run on packet time.

mod app;
mod attempt;
mod connection;
mod direction;
#[cfg(test)]
mod evidence_tests;
mod limits;
#[cfg(test)]
mod rule_tests;
mod streams;
mod table;
mod table_isn;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
mod timers;

pub use crate::event::{ConnRecord, EndReason};
pub use crate::wire::{Endpoint, FlowKey, Side};
pub use connection::Connection;
pub use limits::{CONNECTION_BYTES, FlowConfig, FlowStats, RARE_BYTES, ZEEK_VIEW_BYTES};
pub use streams::{ReasmCtx, StreamSink};
pub use table::{FlowTable, SharedCall, SharedOut, Spent};

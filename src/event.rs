//! What the core hands to its caller: finished connection records and anomalies, in the order
//! they are decided.

use crate::detect::Anomaly;
use crate::flow::Connection;

/// One output of the analysis.
#[derive(Clone, Copy, Debug)]
pub enum Event<'a> {
    /// A connection record leaving the table (ended, timed out, reused, evicted or at the end of
    /// the capture).
    Connection(&'a Connection),
    /// An anomaly, as soon as it is decided.
    Anomaly(&'a Anomaly),
}

//! tcpaudit's integration tests: one test binary, one module per area.

mod check;
mod cli;
mod fixtures;
mod generated;
mod labels;
#[cfg(target_os = "linux")]
mod live;
mod oracle;
mod reassembly;
mod recordings;
mod sanity;
mod shared_corpus;
mod util;

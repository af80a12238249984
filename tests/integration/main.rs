//! tcpaudit's integration tests: one test binary, one module per area.

mod oracle;
mod shared_corpus;

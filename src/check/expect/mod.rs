//! Expectation files (TOML): what must hold for a capture. Read with serde (`raw`: the schema),
//! then checked (anomaly ids, endpoints, durations, analysis options) so that every mistake is
//! reported with the file, line and column it is at (`parse`), into the typed `model`.

mod model;
mod parse;
mod raw;

use std::path::{Path, PathBuf};

pub use model::{
    Budgets, ConnSelector, CountExpect, CountRange, CountScope, EndpointPattern, Expectations,
    NamedExpect,
};
pub use parse::parse;

/// A mistake in an expectation file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct ExpectError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Reads and validates an expectation file.
pub fn load(path: &Path) -> Result<Expectations, ExpectError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExpectError {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

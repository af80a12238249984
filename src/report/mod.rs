//! Output sinks: JSON lines and terminal tables. The engine never formats output; a sink receives
//! finished connection records as they leave the table, then the run summary.

mod json;
mod streams;
mod terminal;

use std::io;

pub use json::{AnomalyRecord, ConnRecord, JsonSink, SummaryRecord};
pub use streams::StreamFiles;
pub use terminal::TableSink;

use crate::analyzer::Summary;
use crate::capture::FileFormat;
use crate::event::Event;

/// One input file of the run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct InputFile {
    /// Path as given (`-` for standard input).
    pub name: String,
    /// `pcap` or `pcapng`.
    pub format: &'static str,
    /// Whether it was gzip-compressed.
    pub compressed: bool,
}

impl InputFile {
    /// Describes a file.
    pub fn new(name: &str, format: FileFormat, compressed: bool) -> Self {
        let format = match format {
            FileFormat::Pcap => "pcap",
            FileFormat::PcapNg => "pcapng",
        };
        InputFile {
            name: name.to_string(),
            format,
            compressed,
        }
    }
}

/// What a run read and which errors it met, for the summary.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// Files read.
    pub files: Vec<InputFile>,
    /// Capture errors (file, byte offset, what), in the order met.
    pub errors: Vec<String>,
    /// Records in files that could not become packets (pcapng blocks naming no interface).
    pub skipped_records: u64,
}

/// Receives connection records, anomalies and the final summary.
pub trait Sink {
    /// One finished connection or one anomaly.
    fn event(&mut self, e: &Event<'_>) -> io::Result<()>;
    /// The end of the run.
    fn finish(&mut self, summary: &Summary, run: &RunInfo) -> io::Result<()>;
}

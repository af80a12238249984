//! Output sinks: JSON lines and terminal tables. The engine never formats output; a sink receives
//! finished connection records as they leave the table, then the run summary.

pub mod community_id;
mod csv;
mod flat;
mod html;
pub mod iso_time;
mod json;
pub mod ladder;
pub mod live;
pub mod live_view;
mod names;
pub mod page;
mod parquet;
pub mod progress;
pub mod reread;
mod streams;
mod tables;
mod terminal;
mod tuples;
mod zeek_log;

use std::io;

pub use csv::CsvTable;
pub use flat::{ANOMALY, APP, CONNECTION, Column, ConnRef};
pub use html::{HtmlReport, Source as HtmlSource};
pub use json::{AnomalyRecord, ConnJson, EveSink, JsonSink, SummaryRecord};
pub use parquet::{Rotation, Table as ParquetTable};
pub use streams::StreamFiles;
pub use tables::TablesSink;
pub use terminal::TableSink;
pub use tuples::OpenConns;
pub use zeek_log::ZeekSink;

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

    /// Describes every file of `set`.
    pub fn all(set: &crate::capture::CaptureSet) -> Vec<InputFile> {
        set.files()
            .iter()
            .map(|f| InputFile::new(f.name(), f.format(), f.compressed()))
            .collect()
    }
}

/// The live capture a run read (`tcpaudit live`), for the summary.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LiveInfo {
    /// Interface captured on.
    pub interface: String,
    /// `afpacket` or `pcap`.
    pub backend: &'static str,
    /// Link-layer type of the frames.
    pub link_type: String,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// The BPF filter, if any.
    pub filter: Option<String>,
    /// Seconds the capture ran.
    pub duration: f64,
    /// Frames the kernel passed the filter.
    pub received: u64,
    /// Frames the kernel dropped (ring or buffer full).
    pub dropped: u64,
    /// Frames the interface or driver dropped, where the backend knows.
    pub if_dropped: u64,
    /// Sent copies of frames on a loopback device, counted in `received` and not analysed.
    pub loopback_copies: u64,
    /// Frames received but still unread in the kernel's buffer when the run stopped (traffic
    /// that kept coming while the last frames were read).
    pub unread: u64,
    /// The file written with `-w`, and the frames in it.
    pub written: Option<(String, u64)>,
}

/// What a run read and which errors it met, for the summary.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    /// Files read.
    pub files: Vec<InputFile>,
    /// The live capture, for `tcpaudit live`.
    pub capture: Option<LiveInfo>,
    /// The `--filter` applied to files, with its counters.
    pub filter: Option<crate::capture::FilterStats>,
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
    /// A snapshot of a live run (JSON sinks write it as a `"type": "status"` record).
    fn status(&mut self, _status: &live::LiveStatus) -> io::Result<()> {
        Ok(())
    }
    /// Writes out what the sink's buffers hold, so that a reader of a live run's output sees
    /// every record decided so far (a live run calls it when the capture is idle, at every
    /// refresh and at most 100 ms after a record). Sinks that write only at the end have
    /// nothing to do.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

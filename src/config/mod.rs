//! Run configuration: analysis options as given (clap) resolved into the core's configuration,
//! and the checks on `live` and `check` arguments (ripgrep's LowArgs → HiArgs).
//!
//! The defaults shown by `--help` are read from the core's `Default` impls, so each default is
//! written once. Nothing here depends on the command-line parser in `cli`: `check` resolves the
//! `[analysis]` tables of expectation files with the same code and the same messages.

use crate::proto::AppConfig;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use clap::{Args, Parser, ValueEnum};

use crate::analyzer::AnalyzerConfig;
use crate::capture::live::{Backend, LiveConfig};
use crate::detect::{DetectConfig, ListenerConfig};
use crate::flow::FlowConfig;
use crate::tcp::reassembly::OverlapPolicy;
use crate::time::Duration;

/// Why arguments could not be resolved into a configuration. The messages name the option as
/// it is spelled on the command line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Words that are not analysis options, or values of the wrong type (clap's first line).
    #[error("{}", first_line(.0))]
    Arguments(clap::Error),
    /// `--max-connections 0`.
    #[error("--max-connections must be at least 1")]
    MaxConnections,
    /// A time option that is negative or not a number.
    #[error("--{option} must be a non-negative number of seconds, not {value}")]
    Seconds {
        /// The option, without its dashes.
        option: &'static str,
        /// The value given.
        value: f64,
    },
    /// `--flood-max-completion` outside 0..=1.
    #[error("--flood-max-completion must be between 0 and 1, not {0}")]
    FloodMaxCompletion(f64),
    /// `--flood-window` outside 1..=16 seconds (the listener rules keep one bucket a second).
    #[error("--flood-window must be between 1 and 16 seconds, not {0}")]
    FloodWindow(f64),
    /// `--zeek-server-ports` that is not a list of port numbers.
    #[error("--zeek-server-ports takes port numbers separated by commas, not '{0}'")]
    ZeekServerPorts(String),
    /// `live --refresh` below 0.1 seconds.
    #[error("--refresh must be at least 0.1 seconds, not {0}")]
    Refresh(f64),
    /// `live --duration` that is not positive.
    #[error("--duration must be a positive number of seconds, not {0}")]
    Duration(f64),
    /// `check --tolerance` that is negative or not a number.
    #[error("--tolerance must be a non-negative fraction, not {0}")]
    Tolerance(f64),
    /// `live --write-streams` or `-o` into a directory the unprivileged user cannot write.
    #[error(
        "{option} {}: not writable by user {user} (choose another directory, or -Z root)",
        dir.display()
    )]
    DirNotWritable {
        /// The option that named it.
        option: &'static str,
        /// The directory.
        dir: PathBuf,
        /// The user the analysis runs as.
        user: String,
    },
}

/// The first line of a clap error, without its `error: ` prefix: the part that says what is
/// wrong, fit for `file:line:column: message`.
fn first_line(e: &clap::Error) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_string()
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for a terminal.
    Table,
    /// JSON lines: one object per connection, then a summary object.
    Json,
    /// Zeek ASCII logs: conn.log on standard output (with -o DIR: conn.log and anomaly.log).
    Zeek,
    /// Suricata EVE-style JSON lines: a `flow` record per connection, an `anomaly` record per
    /// anomaly.
    Eve,
    /// CSV: the connection table on standard output (with -o DIR: connections.csv,
    /// anomalies.csv and, with --app, app.csv).
    Csv,
    /// Parquet files in the -o directory: connections, anomalies and, with --app, app.
    Parquet,
}

impl Format {
    /// Whether records go to standard output one by one (no terminal tables, no view): the
    /// formats other tools read.
    pub fn is_records(self) -> bool {
        !matches!(self, Format::Table)
    }
}

/// Where the file-writing formats write, and when Parquet files rotate.
#[derive(Debug, Clone, Args)]
pub struct OutputOpts {
    /// Directory the output files go to (created if missing): `-f parquet`
    /// writes connections-NNNNNN.parquet, anomalies-NNNNNN.parquet and app-NNNNNN.parquet
    /// there; `-f zeek` conn.log and anomaly.log; `-f csv` connections.csv, anomalies.csv and
    /// app.csv.
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Records per Parquet file: past it the table's next file is started.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub rotate_records: u64,

    /// Capture seconds per Parquet file: a record this long after its file's first starts the
    /// next file (for live runs whose files are read while they go on).
    #[arg(long, value_name = "SECS")]
    pub rotate_seconds: Option<f64>,
}

/// When terminal output is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set (and not empty).
    Auto,
    /// Always (also into a pipe or a file).
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to a terminal (`terminal`) or not.
    pub fn enabled(self, terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }
}

/// Which bytes win in a conflicting overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OverlapArg {
    /// The bytes seen first.
    First,
    /// The bytes seen last.
    Last,
}

impl From<OverlapArg> for OverlapPolicy {
    fn from(a: OverlapArg) -> Self {
        match a {
            OverlapArg::First => OverlapPolicy::First,
            OverlapArg::Last => OverlapPolicy::Last,
        }
    }
}

impl From<OverlapPolicy> for OverlapArg {
    fn from(p: OverlapPolicy) -> Self {
        match p {
            OverlapPolicy::First => OverlapArg::First,
            OverlapPolicy::Last => OverlapArg::Last,
        }
    }
}

/// Which live capture mechanism to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// AF_PACKET on Linux, libpcap elsewhere.
    Auto,
    /// Linux AF_PACKET with a TPACKET_V3 ring.
    Afpacket,
    /// libpcap, loaded at run time.
    Pcap,
}

impl From<BackendArg> for Backend {
    fn from(a: BackendArg) -> Self {
        match a {
            BackendArg::Auto => Backend::Auto,
            BackendArg::Afpacket => Backend::AfPacket,
            BackendArg::Pcap => Backend::Pcap,
        }
    }
}

/// Analysis and output options shared by `analyze` and `live`.
#[derive(Debug, Args)]
pub struct AnalysisOpts {
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Show every connection in the table (default: the first --limit).
    #[arg(long)]
    pub all: bool,

    /// Connections shown in the table.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub limit: usize,

    /// Colour severities in tables and ladders: `auto` on a terminal unless NO_COLOR is set,
    /// `always`, `never`.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Seed of the Community ID on JSON records (0, the default everywhere, unless the sites
    /// comparing records agree on another).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub community_id_seed: u16,

    /// Maximum segment lifetime in seconds; closed connections are remembered for 2*MSL
    /// (TIME-WAIT). 30 s gives Linux's 60 s TIME-WAIT; RFC 9293 suggests 120.
    #[arg(long, default_value_t = DetectConfig::default().msl.as_secs_f64(), value_name = "SECS")]
    pub msl: f64,

    /// Seconds without a segment after which an open connection ends with reason `timeout`.
    #[arg(
        long,
        default_value_t = FlowConfig::default().idle_timeout.as_secs_f64(),
        value_name = "SECS"
    )]
    pub idle_timeout: f64,

    /// Seconds after which an unanswered connection attempt ends (default covers Linux's six SYN
    /// retransmissions, 127 s).
    #[arg(
        long,
        default_value_t = FlowConfig::default().attempt_timeout.as_secs_f64(),
        value_name = "SECS"
    )]
    pub attempt_timeout: f64,

    /// Seconds after which an answered handshake that never completed (SYN-RECEIVED) ends
    /// (default: past Linux's last SYN-ACK retransmission, 63 s).
    #[arg(
        long,
        default_value_t = FlowConfig::default().handshake_timeout.as_secs_f64(),
        value_name = "SECS"
    )]
    pub handshake_timeout: f64,

    /// Seconds without a segment after which a half-closed connection (one FIN seen: FIN-WAIT,
    /// CLOSE-WAIT) ends with reason `timeout`.
    #[arg(
        long,
        default_value_t = FlowConfig::default().half_closed_timeout.as_secs_f64(),
        value_name = "SECS"
    )]
    pub half_closed_timeout: f64,

    /// Connections tracked at once; beyond it the one due soonest is evicted (and counted).
    #[arg(long, default_value_t = FlowConfig::default().max_connections, value_name = "N")]
    pub max_connections: usize,

    /// Memory for the whole analysis (connection records, reassembly, IP fragments, listener
    /// and application-layer state), in bytes or with a K, M or G suffix (powers of 1024);
    /// when it is reached, closed connections waiting out 2*MSL are first kept encoded (about
    /// half their size, decoded exactly when needed), then the connections due soonest are
    /// ended with reason `evicted` (and counted), and a new connection attempt (a SYN) is
    /// counted for its listener instead of evicting one (as beyond --max-half-open).
    /// Reassembly gets at most a quarter of it.
    #[arg(long, default_value = "1G", value_parser = parse_size, value_name = "SIZE")]
    pub max_memory: usize,

    /// Seconds in CLOSE-WAIT after which `close_wait_stuck` is raised while the capture goes on.
    #[arg(
        long,
        default_value_t = DetectConfig::default().close_wait_timeout.as_secs_f64(),
        value_name = "SECS"
    )]
    pub close_wait_timeout: f64,

    /// TTL (hop limit) difference within a direction tolerated before `ttl_anomaly`.
    #[arg(long, default_value_t = DetectConfig::default().ttl_tolerance, value_name = "HOPS")]
    pub ttl_tolerance: u8,

    /// Half-open attempts to one listener at which a `syn_flood` may start.
    #[arg(long, default_value_t = ListenerConfig::default().flood_half_open, value_name = "N")]
    pub flood_half_open: u32,

    /// Distinct sources a `syn_flood` needs.
    #[arg(long, default_value_t = ListenerConfig::default().flood_min_sources, value_name = "N")]
    pub flood_min_sources: u32,

    /// Highest share of completed attempts (0 to 1) during a `syn_flood`.
    #[arg(
        long,
        default_value_t = ListenerConfig::default().flood_max_completion,
        value_name = "RATIO"
    )]
    pub flood_max_completion: f64,

    /// Sliding window of the listener rules, seconds (at most 16).
    #[arg(
        long,
        default_value_t = ListenerConfig::default().window.as_secs_f64(),
        value_name = "SECS"
    )]
    pub flood_window: f64,

    /// Half-open count reported as `half_open_backlog` (Linux's minimum tcp_max_syn_backlog).
    #[arg(long, default_value_t = ListenerConfig::default().backlog, value_name = "N")]
    pub backlog: u32,

    /// Half-open attempts per listener tracked as connection records; more are only counted.
    #[arg(
        long,
        default_value_t = ListenerConfig::default().max_half_open_per_listener,
        value_name = "N"
    )]
    pub max_half_open: u32,

    /// Which bytes a stream keeps when a retransmission disagrees with bytes already seen.
    #[arg(
        long,
        value_enum,
        default_value_t = OverlapArg::from(FlowConfig::default().overlap_policy)
    )]
    pub overlap_policy: OverlapArg,

    /// Bytes held per direction for reassembly (out of order, or delivered and not yet
    /// acknowledged; each separate range held out of order counts 96 bytes more); beyond it
    /// segments are not held, and the summary counts them.
    #[arg(
        long,
        default_value_t = FlowConfig::default().max_stream_buffer,
        value_name = "BYTES"
    )]
    pub max_stream_buffer: usize,

    /// Bytes held for reassembly over all connections.
    #[arg(
        long,
        default_value_t = FlowConfig::default().max_reassembly_memory,
        value_name = "BYTES"
    )]
    pub max_reassembly_memory: usize,

    /// Keep each stream's bytes until acknowledged and compare retransmissions with them
    /// (`overlap_conflict`). Costs a copy of every payload byte; implied by --write-streams.
    #[arg(long)]
    pub check_overlaps: bool,

    /// Write each direction's reassembled bytes to a file in DIR, named by connection id,
    /// direction and four-tuple (like tcpflow).
    #[arg(long, value_name = "DIR")]
    pub write_streams: Option<PathBuf>,

    /// Keep each connection's story: every state change of both endpoints (the first 32) with
    /// the segment that caused it, and its milestones (SYN, SYN-ACK, third ACK, first data and
    /// FIN each way, RST, TIME-WAIT and its end, who closed first, a close of 3 or 4 segments).
    /// JSON records then carry a `story` object.
    #[arg(long)]
    pub transitions: bool,

    /// Parse the application layer: DNS (UDP and TCP), TLS handshakes (server name, versions,
    /// cipher, ALPN, handshake time) and HTTP/1.x requests and responses (method, host, URI,
    /// status, sizes, time to first byte, cookies by name and size). JSON lines then carry
    /// `dns`, `tls` and `http` records; HTTP/2 and QUIC are recognised and counted, not parsed.
    #[arg(long)]
    pub app: bool,

    /// Verify TCP checksums; bad segments are counted, marked `C`/`c` in the Zeek history and,
    /// as in Zeek, otherwise left out of the Zeek view. Off by default: checksum offload makes
    /// segments captured on their sending host look bad.
    #[arg(long)]
    pub verify_checksums: bool,

    /// Zeek's likely_server_ports, comma-separated, for the Zeek-compatible conn_state and
    /// history of connections that do not start with a SYN (`none` for `zeek -b`; default: the
    /// ports of Zeek's default scripts).
    #[arg(long, value_name = "PORTS")]
    pub zeek_server_ports: Option<String>,
}

/// Only the analysis options, for expectation files' `[analysis]` tables.
#[derive(Debug, Parser)]
#[command(name = "[analysis]", no_binary_name = true)]
struct OptsOnly {
    #[command(flatten)]
    opts: AnalysisOpts,
}

impl AnalysisOpts {
    /// Whether the user asked for connection stories: with `--transitions`, and with `--app`,
    /// whose pages draw TIME-WAIT from them. Records show them only then, even when another
    /// output (the HTML report) keeps them.
    pub fn stories_asked(&self) -> bool {
        self.transitions || self.app
    }

    /// Parses analysis options given as command-line words (`--msl`, `60`, ...), with the same
    /// defaults and checks as the command line.
    pub fn from_args(args: &[String]) -> Result<AnalysisOpts, ConfigError> {
        let o = OptsOnly::try_parse_from(args).map_err(ConfigError::Arguments)?;
        o.opts.config()?;
        Ok(o.opts)
    }

    /// The analysis configuration these arguments ask for.
    pub fn config(&self) -> Result<AnalyzerConfig, ConfigError> {
        let flow = self.flow_config()?;
        let msl = seconds("msl", self.msl)?;
        if !(0.0..=1.0).contains(&self.flood_max_completion) {
            return Err(ConfigError::FloodMaxCompletion(self.flood_max_completion));
        }
        if !(self.flood_window.is_finite() && self.flood_window >= 1.0 && self.flood_window <= 16.0)
        {
            return Err(ConfigError::FloodWindow(self.flood_window));
        }
        let close_wait = seconds("close-wait-timeout", self.close_wait_timeout)?;
        let zeek_server_ports = match self.zeek_server_ports.as_deref() {
            None => crate::compat::LIKELY_SERVER_PORTS,
            Some("none") | Some("") => &[],
            Some(list) => {
                let ports: Result<Vec<u16>, _> =
                    list.split(',').map(|p| p.trim().parse::<u16>()).collect();
                intern_ports(ports.map_err(|_| ConfigError::ZeekServerPorts(list.to_string()))?)
            }
        };
        let detect = DetectConfig {
            msl,
            zeek_server_ports,
            close_wait_timeout: close_wait,
            ttl_tolerance: self.ttl_tolerance,
            ..DetectConfig::default()
        };
        let listeners = ListenerConfig {
            window: Duration::from_secs_f64(self.flood_window),
            flood_half_open: self.flood_half_open.max(1),
            flood_min_sources: self.flood_min_sources,
            flood_max_completion: self.flood_max_completion,
            backlog: self.backlog.max(1),
            max_half_open_per_listener: self.max_half_open.max(1),
            ..ListenerConfig::default()
        };
        Ok(AnalyzerConfig {
            flow,
            detect,
            listeners,
            verify_checksums: self.verify_checksums,
            app: AppConfig {
                enabled: self.app,
                ..AppConfig::default()
            },
        })
    }

    /// The connection-table configuration these arguments ask for.
    pub fn flow_config(&self) -> Result<FlowConfig, ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::MaxConnections);
        }
        // No option sets these: when connections are held as their first segment or encoded.
        let held = FlowConfig::default();
        Ok(FlowConfig {
            overlap_policy: self.overlap_policy.into(),
            max_stream_buffer: self.max_stream_buffer,
            max_reassembly_memory: self.max_reassembly_memory,
            keep_bytes: self.check_overlaps || self.write_streams.is_some(),
            segment_events: false,
            keep_transitions: self.stories_asked(),
            // Every output but the terminal tables shows Zeek's conn_state and history.
            zeek_view: self.format.is_records(),
            segment_stream: false,
            idle_timeout: seconds("idle-timeout", self.idle_timeout)?,
            attempt_timeout: seconds("attempt-timeout", self.attempt_timeout)?,
            handshake_timeout: seconds("handshake-timeout", self.handshake_timeout)?,
            half_closed_timeout: seconds("half-closed-timeout", self.half_closed_timeout)?,
            max_connections: self.max_connections,
            max_memory: self.max_memory,
            compact_syns_from: held.compact_syns_from,
            compact: held.compact,
            compact_from: held.compact_from,
            freeze_from: held.freeze_from,
        })
    }
}

/// A size in bytes: a number, optionally followed by K, M or G (powers of 1024; a trailing `B`
/// or `iB` is allowed: `256M`, `1GiB`).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let lower = text.trim().to_ascii_lowercase();
    let t = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'k')) => (&t[..i], 10),
        Some((i, 'm')) => (&t[..i], 20),
        Some((i, 'g')) => (&t[..i], 30),
        _ => (t, 0),
    };
    digits
        .trim()
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("'{text}' is not a size (bytes, or a number with K, M or G)"))
}

/// A time option: a non-negative, finite number of seconds.
fn seconds(option: &'static str, value: f64) -> Result<Duration, ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(ConfigError::Seconds { option, value })
    }
}

/// A `--zeek-server-ports` list as the `&'static [u16]` `DetectConfig` holds (it is `Copy`, and
/// shared by every connection). Each distinct list is leaked once: `check` resolves options per
/// capture and per `[analysis]` entry, so leaking per call would grow with the captures checked.
fn intern_ports(ports: Vec<u16>) -> &'static [u16] {
    static INTERNED: Mutex<Vec<&'static [u16]>> = Mutex::new(Vec::new());
    // The list is only ever pushed to, so a panic elsewhere cannot leave it inconsistent.
    let mut interned = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = interned.iter().copied().find(|p| *p == ports.as_slice()) {
        return known;
    }
    let leaked: &'static [u16] = Box::leak(ports.into_boxed_slice());
    interned.push(leaked);
    leaked
}

/// `tcpaudit live`'s capture arguments as given, before [`LiveRequest::resolve`] checks them.
/// Plain values, so that resolving them does not depend on the command-line parser.
#[derive(Clone, Debug)]
pub struct LiveRequest<'a> {
    /// `-i`: the interface.
    pub interface: &'a str,
    /// The filter expression (`--filter` or the trailing words).
    pub filter: Option<String>,
    /// `--backend`.
    pub backend: BackendArg,
    /// `-s`: bytes kept of each frame.
    pub snaplen: u32,
    /// Not `-p`: put the interface into promiscuous mode.
    pub promiscuous: bool,
    /// `-B`: the kernel buffer in MiB.
    pub buffer_mib: usize,
    /// `--refresh`, seconds.
    pub refresh: f64,
    /// `--duration`, seconds.
    pub duration: Option<f64>,
}

/// What `tcpaudit live` runs with, resolved from a [`LiveRequest`].
#[derive(Clone, Debug)]
pub struct LiveSettings {
    /// How to open the capture.
    pub capture: LiveConfig,
    /// Time between refreshes of the live view (and JSON status records).
    pub refresh: std::time::Duration,
    /// Wall-clock time after which the run ends, if any.
    pub duration: Option<std::time::Duration>,
}

impl LiveRequest<'_> {
    /// Checks the request and builds the capture configuration.
    pub fn resolve(self) -> Result<LiveSettings, ConfigError> {
        let refresh = match self.refresh {
            r if r.is_finite() && r >= 0.1 => std::time::Duration::from_secs_f64(r),
            r => return Err(ConfigError::Refresh(r)),
        };
        let duration = match self.duration {
            Some(d) if d.is_finite() && d > 0.0 => Some(std::time::Duration::from_secs_f64(d)),
            Some(d) => return Err(ConfigError::Duration(d)),
            None => None,
        };
        Ok(LiveSettings {
            capture: LiveConfig {
                interface: self.interface.to_string(),
                snaplen: self.snaplen.max(64),
                promisc: self.promiscuous,
                buffer_bytes: self.buffer_mib.max(1) << 20,
                filter: self.filter,
                backend: self.backend.into(),
            },
            refresh,
            duration,
        })
    }
}

/// Checks that `dir` (of `option`: `--write-streams`, `-o`) can be written now, once privileges
/// were dropped to `user`: the directory was chosen as root, and finding out at the first
/// stream or file would lose it.
pub fn probe_dir_writable(option: &'static str, dir: &Path, user: &str) -> Result<(), ConfigError> {
    let probe = dir.join(".tcpaudit-write-test");
    if std::fs::write(&probe, b"").is_err() {
        return Err(ConfigError::DirNotWritable {
            option,
            dir: dir.to_path_buf(),
            user: user.to_string(),
        });
    }
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// `check --tolerance`: a non-negative fraction.
pub fn tolerance(fraction: f64) -> Result<f64, ConfigError> {
    if fraction.is_finite() && fraction >= 0.0 {
        Ok(fraction)
    } else {
        Err(ConfigError::Tolerance(fraction))
    }
}

#[cfg(test)]
mod tests;

/// The threads a run over files uses for `--threads N`: N, or one per core for 0.
pub fn threads(n: usize) -> usize {
    if n > 0 {
        return n;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

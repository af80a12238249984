//! Command-line interface: raw arguments (clap) resolved into a run configuration.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::analyzer::AnalyzerConfig;
use crate::detect::{DetectConfig, ListenerConfig};
use crate::flow::FlowConfig;
use crate::time::Duration;

/// Audits TCP connections in capture files and live traffic: every connection, how it opened,
/// what each side negotiated, how it ended, and what deviated from RFC 9293.
#[derive(Debug, Parser)]
#[command(name = "tcpaudit", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse capture files (pcap, pcapng, gzip-compressed; `-` for standard input).
    Analyze(AnalyzeArgs),
    /// Capture on an interface and analyse as it happens; Ctrl-C (or SIGTERM) ends the run
    /// with the final report.
    Live(LiveArgs),
    /// List the interfaces `live -i` can capture on (like `tcpdump -D`).
    Interfaces,
    /// Hold captures against expectations (TOML) or a baseline: a regression gate for CI.
    /// Exit status 0: everything holds; 1: an expectation failed; 2: the run failed.
    Check(CheckArgs),
    /// List every anomaly id with its severity, or explain one: what it means, why it matters,
    /// how it is decided and which options tune it.
    Explain {
        /// An anomaly id (`half_open`, `syn_flood`, ...); without it, all ids are listed.
        id: Option<String>,
    },
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for a terminal.
    Table,
    /// JSON lines: one object per connection, then a summary object.
    Json,
}

/// Which bytes win in a conflicting overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OverlapArg {
    /// The bytes seen first.
    First,
    /// The bytes seen last.
    Last,
}

/// Arguments of `tcpaudit analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files; several files are one capture, merged in timestamp order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

    /// Analyse only frames matching this tcpdump filter expression (compiled by libpcap, which
    /// must be installed).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// Analysis and output options.
    #[command(flatten)]
    pub opts: AnalysisOpts,
}

/// Arguments of `tcpaudit check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Capture files, or directories searched for them (recursively). Each capture's
    /// expectations are read from `<capture>.expect.toml`, else from the nearest `expect.toml`
    /// of its directory.
    #[arg(required = true, value_name = "CAPTURE|DIR")]
    pub paths: Vec<std::path::PathBuf>,

    /// One expectation file for every capture given.
    #[arg(long, value_name = "FILE")]
    pub expect: Option<std::path::PathBuf>,

    /// Compare with this baseline snapshot (fail on new anomaly kinds, counts grown beyond the
    /// tolerance, changed connection outcomes).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<std::path::PathBuf>,

    /// Write (or refresh) the baseline instead of comparing with it.
    #[arg(long, requires = "baseline")]
    pub update: bool,

    /// How much an anomaly count may grow over the baseline, as a fraction (0.1: 10%).
    #[arg(long, default_value_t = 0.1, value_name = "FRACTION")]
    pub tolerance: f64,

    /// Write a JUnit XML report to FILE (a test suite per capture, a test case per expectation).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,

    /// List the expectations that hold, too.
    #[arg(long, short = 'v')]
    pub verbose: bool,
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

/// Arguments of `tcpaudit live`.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture on (`any` for all; `tcpaudit interfaces` lists them).
    #[arg(long, short = 'i', value_name = "IFACE")]
    pub interface: String,

    /// A tcpdump filter expression, as separate words (`tcp port 443`); run in the kernel.
    #[arg(value_name = "FILTER", conflicts_with = "filter")]
    pub filter_words: Vec<String>,

    /// The filter as one argument (same syntax).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// Capture mechanism.
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    pub backend: BackendArg,

    /// Bytes kept of each frame (headers need about 128; reassembly and --write-streams need
    /// whole frames).
    #[arg(long, short = 's', default_value_t = 262_144, value_name = "BYTES")]
    pub snaplen: u32,

    /// Do not put the interface into promiscuous mode.
    #[arg(long = "no-promiscuous-mode", short = 'p')]
    pub no_promisc: bool,

    /// Kernel capture buffer (the ring), in MiB.
    #[arg(long, short = 'B', default_value_t = 64, value_name = "MIB")]
    pub buffer_size: usize,

    /// Also write every captured frame to FILE (pcapng; classic pcap if FILE ends in .pcap).
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<std::path::PathBuf>,

    /// Stop after this many frames.
    #[arg(long, short = 'c', value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,

    /// User to switch to once the capture is open, when started as root (`root` keeps root).
    #[arg(long, short = 'Z', default_value = "nobody", value_name = "USER")]
    pub user: String,

    /// Seconds between refreshes of the live view (and of JSON status records).
    #[arg(long, default_value_t = 2.0, value_name = "SECS")]
    pub refresh: f64,

    /// Analysis and output options.
    #[command(flatten)]
    pub opts: AnalysisOpts,
}

impl LiveArgs {
    /// The filter expression, from --filter or the trailing words.
    pub fn filter_expr(&self) -> Option<String> {
        self.filter
            .clone()
            .or_else(|| (!self.filter_words.is_empty()).then(|| self.filter_words.join(" ")))
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

    /// Maximum segment lifetime in seconds; closed connections are remembered for 2*MSL
    /// (TIME-WAIT). 30 s gives Linux's 60 s TIME-WAIT; RFC 9293 suggests 120.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub msl: f64,

    /// Seconds without a segment after which an open connection ends with reason `timeout`.
    #[arg(long, default_value_t = 3600.0, value_name = "SECS")]
    pub idle_timeout: f64,

    /// Seconds after which an unanswered connection attempt ends (default covers Linux's six SYN
    /// retransmissions, 127 s).
    #[arg(long, default_value_t = 130.0, value_name = "SECS")]
    pub attempt_timeout: f64,

    /// Seconds after which an answered handshake that never completed (SYN-RECEIVED) ends
    /// (default: past Linux's last SYN-ACK retransmission, 63 s).
    #[arg(long, default_value_t = 75.0, value_name = "SECS")]
    pub handshake_timeout: f64,

    /// Seconds without a segment after which a half-closed connection (one FIN seen: FIN-WAIT,
    /// CLOSE-WAIT) ends with reason `timeout`.
    #[arg(long, default_value_t = 600.0, value_name = "SECS")]
    pub half_closed_timeout: f64,

    /// Connections tracked at once; beyond it the one due soonest is evicted (and counted).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_connections: usize,

    /// Seconds in CLOSE-WAIT after which `close_wait_stuck` is raised while the capture goes on.
    #[arg(long, default_value_t = 60.0, value_name = "SECS")]
    pub close_wait_timeout: f64,

    /// TTL (hop limit) difference within a direction tolerated before `ttl_anomaly`.
    #[arg(long, default_value_t = 1, value_name = "HOPS")]
    pub ttl_tolerance: u8,

    /// Half-open attempts to one listener at which a `syn_flood` may start.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub flood_half_open: u32,

    /// Distinct sources a `syn_flood` needs.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub flood_min_sources: u32,

    /// Highest share of completed attempts (0 to 1) during a `syn_flood`.
    #[arg(long, default_value_t = 0.1, value_name = "RATIO")]
    pub flood_max_completion: f64,

    /// Sliding window of the listener rules, seconds (at most 16).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub flood_window: f64,

    /// Half-open count reported as `half_open_backlog` (Linux's minimum tcp_max_syn_backlog).
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub backlog: u32,

    /// Half-open attempts per listener tracked as connection records; more are only counted.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub max_half_open: u32,

    /// Which bytes a stream keeps when a retransmission disagrees with bytes already seen.
    #[arg(long, value_enum, default_value_t = OverlapArg::First)]
    pub overlap_policy: OverlapArg,

    /// Bytes held per direction for reassembly (out of order, or delivered and not yet
    /// acknowledged); beyond it segments are not held, and the summary counts them.
    #[arg(long, default_value_t = 1 << 20, value_name = "BYTES")]
    pub max_stream_buffer: usize,

    /// Bytes held for reassembly over all connections.
    #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
    pub max_reassembly_memory: usize,

    /// Keep each stream's bytes until acknowledged and compare retransmissions with them
    /// (`overlap_conflict`). Costs a copy of every payload byte; implied by --write-streams.
    #[arg(long)]
    pub check_overlaps: bool,

    /// Write each direction's reassembled bytes to a file in DIR, named by connection id,
    /// direction and four-tuple (like tcpflow).
    #[arg(long, value_name = "DIR")]
    pub write_streams: Option<std::path::PathBuf>,

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
    /// Parses analysis options given as command-line words (`--msl`, `60`, ...), with the same
    /// defaults and checks as the command line.
    pub fn from_args(args: &[String]) -> Result<AnalysisOpts, String> {
        let o = OptsOnly::try_parse_from(args).map_err(|e| {
            e.to_string()
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string()
        })?;
        o.opts.config()?;
        Ok(o.opts)
    }

    /// The analysis configuration these arguments ask for.
    pub fn config(&self) -> Result<AnalyzerConfig, String> {
        let flow = self.flow_config()?;
        let msl = if self.msl.is_finite() && self.msl >= 0.0 {
            Duration::from_secs_f64(self.msl)
        } else {
            return Err(format!(
                "--msl must be a non-negative number of seconds, not {}",
                self.msl
            ));
        };
        if !(0.0..=1.0).contains(&self.flood_max_completion) {
            return Err(format!(
                "--flood-max-completion must be between 0 and 1, not {}",
                self.flood_max_completion
            ));
        }
        if !(self.flood_window.is_finite() && self.flood_window >= 1.0 && self.flood_window <= 16.0)
        {
            return Err(format!(
                "--flood-window must be between 1 and 16 seconds, not {}",
                self.flood_window
            ));
        }
        let close_wait = if self.close_wait_timeout.is_finite() && self.close_wait_timeout >= 0.0 {
            Duration::from_secs_f64(self.close_wait_timeout)
        } else {
            return Err(format!(
                "--close-wait-timeout must be a non-negative number of seconds, not {}",
                self.close_wait_timeout
            ));
        };
        let zeek_server_ports: &'static [u16] = match self.zeek_server_ports.as_deref() {
            None => crate::compat::LIKELY_SERVER_PORTS,
            Some("none") | Some("") => &[],
            Some(list) => {
                let ports: Result<Vec<u16>, _> =
                    list.split(',').map(|p| p.trim().parse::<u16>()).collect();
                let ports = ports.map_err(|_| {
                    format!(
                        "--zeek-server-ports takes port numbers separated by commas, not '{list}'"
                    )
                })?;
                // Parsed once per run and kept for its whole length.
                Box::leak(ports.into_boxed_slice())
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
        })
    }

    /// The connection-table configuration these arguments ask for.
    pub fn flow_config(&self) -> Result<FlowConfig, String> {
        let secs = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(format!(
                    "--{name} must be a non-negative number of seconds, not {v}"
                ))
            }
        };
        if self.max_connections == 0 {
            return Err("--max-connections must be at least 1".into());
        }
        Ok(FlowConfig {
            overlap_policy: match self.overlap_policy {
                OverlapArg::First => crate::tcp::reassembly::OverlapPolicy::First,
                OverlapArg::Last => crate::tcp::reassembly::OverlapPolicy::Last,
            },
            max_stream_buffer: self.max_stream_buffer,
            max_reassembly_memory: self.max_reassembly_memory,
            keep_bytes: self.check_overlaps || self.write_streams.is_some(),
            segment_events: false,
            idle_timeout: secs("idle-timeout", self.idle_timeout)?,
            attempt_timeout: secs("attempt-timeout", self.attempt_timeout)?,
            handshake_timeout: secs("handshake-timeout", self.handshake_timeout)?,
            half_closed_timeout: secs("half-closed-timeout", self.half_closed_timeout)?,
            max_connections: self.max_connections,
        })
    }
}

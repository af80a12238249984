//! Command-line interface: the subcommands and their raw arguments (clap). [`crate::config`]
//! holds the analysis options they share and resolves them into a run configuration.

use clap::{Args, Parser, Subcommand};

use crate::capture::live::LiveConfig;
use crate::config::{AnalysisOpts, BackendArg, LiveRequest, OutputOpts};

/// Audits TCP connections in capture files and live traffic: every connection, how it opened,
/// what each side negotiated, how it ended, and what deviated from RFC 9293.
#[derive(Debug, Parser)]
#[command(
    name = "tcpaudit",
    version,
    about,
    propagate_version = true,
    after_help = "As in tcpdump: `tcpaudit -r FILE [FILTER]` is `tcpaudit analyze -r FILE [FILTER]`, \
                  `tcpaudit -i IFACE [FILTER]` is `tcpaudit live -i IFACE [FILTER]`, and \
                  `tcpaudit -D` lists the interfaces."
)]
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
    /// Exit status 0: everything holds; 1: an expectation failed; 2: bad arguments or
    /// expectations; 3: a capture could not be read.
    Check(CheckArgs),
    /// Draw connections as ladder diagrams: both endpoints' lifelines, one arrow per segment,
    /// each side's RFC 9293 state where it changes, anomalies on the segments that raised them.
    Ladder(LadderArgs),
    /// List every anomaly id with its severity, or explain one: what it means, why it matters,
    /// how it is decided and which options tune it.
    Explain {
        /// An anomaly id (`half_open`, `syn_flood`, ...); without it, all ids are listed.
        id: Option<String>,
    },
    /// Print a shell completion script: `tcpaudit completions bash >
    /// /etc/bash_completion.d/tcpaudit` (zsh: a `_tcpaudit` file on $fpath; fish:
    /// ~/.config/fish/completions/tcpaudit.fish).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from the same definition as --help: `tcpaudit man
    /// > /usr/local/share/man/man1/tcpaudit.1`.
    #[command(hide = true)]
    Man,
}

/// Arguments of `tcpaudit analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files; several files are one capture, merged in timestamp order. With -r, these
    /// words are a tcpdump filter instead, as tcpdump reads them (`-r f.pcap tcp port 80`).
    #[arg(value_name = "FILE", required_unless_present = "read")]
    pub files: Vec<String>,

    /// A capture file to read, as tcpdump's -r (repeatable); the words after the options are
    /// then a filter expression.
    #[arg(short = 'r', value_name = "FILE")]
    pub read: Vec<String>,

    /// Analyse only frames matching this tcpdump filter expression (compiled by libpcap, which
    /// must be installed).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// Stop after this many frames (as tcpdump -c).
    #[arg(short = 'c', long = "count", value_name = "N")]
    pub count: Option<u64>,

    /// Also write the frames of the connections --select picks (by default every connection
    /// with a warning or an error) to FILE, with their original timestamps: pcapng (each frame
    /// commented with its frame number here and its connection), or classic pcap if FILE ends
    /// in .pcap.
    #[arg(short = 'w', value_name = "FILE")]
    pub write: Option<std::path::PathBuf>,

    /// Also write a self-contained HTML report to FILE: the summary, the anomalies in a table
    /// that sorts and filters, per-listener timelines, a waterfall of the connections and the
    /// ladder diagram of every flagged connection (opens offline; nothing is fetched).
    #[arg(long, value_name = "FILE")]
    pub html: Option<std::path::PathBuf>,

    /// Which connections -w writes: `flagged` (a warning or an error: the default), `all`,
    /// `anomaly=ID[,ID...]` (connections that raised one of these ids) or `conn=ID[,ID...]`
    /// (record ids); repeatable, a connection is written if any selection picks it.
    #[arg(long, value_name = "SPEC", requires = "write")]
    pub select: Vec<String>,

    /// Show every column of the connection table, however wide the terminal (by default
    /// columns are dropped or merged until the table fits).
    #[arg(long)]
    pub wide: bool,

    /// Threads to analyse with: 0 (the default) means one per core. With two or more, frames
    /// are read and decoded on a thread of their own while the connections are analysed on
    /// another; with two, JSON, EVE, Zeek, CSV and Parquet records are written on the reading
    /// thread, between the batches it hands over. With three or more, the connections are
    /// split by four-tuple among N-1 threads and their output merged back in capture order
    /// (not with --app, --write-streams, --html, -w or standard input, where JSON, EVE, Zeek,
    /// CSV and Parquet records are written on a third thread instead). The output is the same
    /// whatever the number, but for the summary's resource figures (a split run's are its
    /// threads' sums); a capture whose connections cannot be judged apart (a flood past the
    /// caps, a one-sided capture, the memory bound within reach) is analysed again on one
    /// thread, with a note.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,

    /// No progress bar while reading (it is drawn on standard error only when that is a
    /// terminal).
    #[arg(long, short = 'q')]
    pub quiet: bool,

    /// Analysis and output options.
    #[command(flatten)]
    pub opts: AnalysisOpts,

    /// Output files.
    #[command(flatten)]
    pub output: OutputOpts,
}

/// Words of a tcpdump filter expression: a capture path that does not exist and is one of
/// these was most likely meant as a filter.
const FILTER_WORDS: [&str; 22] = [
    "tcp",
    "udp",
    "icmp",
    "icmp6",
    "ip",
    "ip6",
    "arp",
    "vlan",
    "host",
    "net",
    "port",
    "portrange",
    "src",
    "dst",
    "and",
    "or",
    "not",
    "ether",
    "proto",
    "less",
    "greater",
    "!",
];

impl AnalyzeArgs {
    /// The capture files and the filter expression, from the positional words, `-r` and
    /// `--filter`: with `-r` the words are the filter, without it they are the files.
    pub fn inputs(&self) -> Result<(Vec<String>, Option<String>), String> {
        let (files, filter) = self.inputs_as_given()?;
        stdin_once(&files)?;
        Ok((files, filter))
    }

    fn inputs_as_given(&self) -> Result<(Vec<String>, Option<String>), String> {
        if self.read.is_empty() {
            let looks_like_filter = |f: &String| {
                FILTER_WORDS.contains(&f.as_str()) && !std::path::Path::new(f).exists()
            };
            if let Some(at) = self.files.iter().position(looks_like_filter) {
                let expr = self.files[at..].join(" ");
                return Err(format!(
                    "{}: no such file; a filter goes after -r files (`tcpaudit analyze -r FILE \
                     {expr}`) or in --filter '{expr}'",
                    self.files[at]
                ));
            }
            return Ok((self.files.clone(), self.filter.clone()));
        }
        let words = (!self.files.is_empty()).then(|| self.files.join(" "));
        match (words, &self.filter) {
            (Some(_), Some(_)) => Err(
                "the filter is given twice: as words after the -r files and with --filter".into(),
            ),
            (words, filter) => Ok((self.read.clone(), words.or_else(|| filter.clone()))),
        }
    }
}

/// Standard input (`-`) can be read once: given twice, the second reader would see what the
/// first left.
pub fn stdin_once(files: &[String]) -> Result<(), String> {
    if files.iter().filter(|f| *f == "-").count() > 1 {
        return Err("standard input (-) is given more than once: it can be read once".into());
    }
    Ok(())
}

/// Arguments of `tcpaudit ladder`.
#[derive(Debug, Args)]
pub struct LadderArgs {
    /// Capture files; several files are one capture, merged in timestamp order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

    /// Draw the connection with this record id (as `analyze` numbers them); repeatable or
    /// comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub conn: Vec<u64>,

    /// Draw the connections that raised this anomaly id; repeatable or comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub anomaly: Vec<String>,

    /// Plain ASCII (no box-drawing characters, no colour).
    #[arg(long)]
    pub ascii: bool,

    /// Analyse only frames matching this tcpdump filter expression (frame numbers count the
    /// frames that match, as with `analyze --filter`).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,

    /// Analysis options, as for `analyze` (`--limit` bounds the connections drawn, `--all`
    /// draws every match).
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

    /// Write each capture's HTML report (as `analyze --html`) into DIR, named after the
    /// capture's path: artifacts for a CI run.
    #[arg(long, value_name = "DIR")]
    pub html: Option<std::path::PathBuf>,

    /// Threads to check with: 0 (the default) means one per core. Up to that many captures are
    /// analysed at once, each within its own memory bound; threads left over go to each
    /// capture's analysis (as `analyze --threads`: with three or more, its connections are
    /// split among them, unless --html is given). Results are reported in the order the
    /// captures were found: the same whatever the number.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,

    /// List the expectations that hold, too.
    #[arg(long, short = 'v')]
    pub verbose: bool,
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
    #[arg(long, short = 's', default_value_t = LiveConfig::default().snaplen, value_name = "BYTES")]
    pub snaplen: u32,

    /// Do not put the interface into promiscuous mode.
    #[arg(long = "no-promiscuous-mode", short = 'p')]
    pub no_promisc: bool,

    /// Kernel capture buffer (the ring), in MiB.
    #[arg(
        long,
        short = 'B',
        default_value_t = LiveConfig::default().buffer_bytes >> 20,
        value_name = "MIB"
    )]
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

    /// Show every column of the final connection table, however wide the terminal.
    #[arg(long)]
    pub wide: bool,

    /// Analysis and output options.
    #[command(flatten)]
    pub opts: AnalysisOpts,

    /// Output files.
    #[command(flatten)]
    pub output: OutputOpts,
}

impl LiveArgs {
    /// The filter expression, from --filter or the trailing words.
    pub fn filter_expr(&self) -> Option<String> {
        self.filter
            .clone()
            .or_else(|| (!self.filter_words.is_empty()).then(|| self.filter_words.join(" ")))
    }

    /// The capture arguments, for [`LiveRequest::resolve`].
    pub fn request(&self) -> LiveRequest<'_> {
        LiveRequest {
            interface: &self.interface,
            filter: self.filter_expr(),
            backend: self.backend,
            snaplen: self.snaplen,
            promiscuous: !self.no_promisc,
            buffer_mib: self.buffer_size,
            refresh: self.refresh,
            duration: self.duration,
        }
    }
}

//! Command-line interface: raw arguments (clap) resolved into a run configuration.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::flow::FlowConfig;
use crate::time::Duration;

/// Audits TCP connections in capture files: every connection, how it opened, what each side
/// negotiated, how it ended.
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
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for a terminal.
    Table,
    /// JSON lines: one object per connection, then a summary object.
    Json,
}

/// Arguments of `tcpaudit analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Capture files; several files are one capture, merged in timestamp order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,

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

    /// Connections tracked at once; beyond it the one due soonest is evicted (and counted).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_connections: usize,
}

impl AnalyzeArgs {
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
            msl: secs("msl", self.msl)?,
            idle_timeout: secs("idle-timeout", self.idle_timeout)?,
            attempt_timeout: secs("attempt-timeout", self.attempt_timeout)?,
            max_connections: self.max_connections,
        })
    }
}

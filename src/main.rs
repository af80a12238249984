//! The `tcpaudit` binary: parses the command line and runs the command; the commands live in
//! the library ([`tcpaudit::app`]). Exit codes: 0 clean, 1 when `check` finds an expectation
//! broken, 2 on errors (unreadable captures, a live capture that cannot be opened, invalid
//! arguments). A closed output pipe (`| head`) is not an error.

use std::ffi::OsString;
use std::io;
use std::process::ExitCode;

use clap::Parser;
use tcpaudit::app;
use tcpaudit::cli::{Cli, Command};

/// `tcpaudit -r FILE ...`, `tcpaudit -i IFACE ...` and `tcpaudit -D` as tcpdump users type
/// them: the subcommand they mean goes first (`analyze`, `live`, `interfaces`).
fn tcpdump_style(mut args: Vec<OsString>) -> Vec<OsString> {
    let first = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
    if first == "-D" {
        args[1] = "interfaces".into();
    } else if first.starts_with("-r") {
        args.insert(1, "analyze".into());
    } else if first.starts_with("-i") {
        args.insert(1, "live".into());
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(tcpdump_style(std::env::args_os().collect()));
    let result = match cli.command {
        Command::Analyze(args) => app::analyze(&args),
        Command::Live(args) => app::live(&args),
        Command::Interfaces => app::interfaces(),
        Command::Check(args) => app::check(&args),
        Command::Ladder(args) => app::ladder(&args),
        Command::Explain { id } => app::explain(id.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcpaudit: error: {e}");
            ExitCode::from(2)
        }
    }
}

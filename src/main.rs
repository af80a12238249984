//! The `tcpaudit` binary: parses the command line and runs the command; the commands live in
//! the library ([`tcpaudit::app`]). Exit codes: 0 clean, 1 when `check` finds an expectation
//! broken, 2 on errors (unreadable captures, a live capture that cannot be opened, invalid
//! arguments). A closed output pipe (`| head`) is not an error.

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
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

/// `--version`: the release and the commit built; the long form (`--version` rather than `-V`)
/// adds the libpcap found at run time, which filters and `--backend pcap` need.
fn with_versions(cmd: clap::Command) -> clap::Command {
    let short = format!(
        "{} (commit {})",
        env!("CARGO_PKG_VERSION"),
        env!("TCPAUDIT_COMMIT")
    );
    let pcap = match tcpaudit::capture::libpcap::libpcap() {
        Ok(lib) => lib.version().to_string(),
        Err(e) => format!("not available ({e}): filters and --backend pcap need it"),
    };
    let long = format!("{short}\nlibpcap: {pcap}");
    // clap keeps version strings for the life of the program; this is built once.
    cmd.version(&*Box::leak(short.into_boxed_str()))
        .long_version(&*Box::leak(long.into_boxed_str()))
}

fn main() -> ExitCode {
    let args = tcpdump_style(std::env::args_os().collect());
    let cmd = Cli::command();
    // Only a version request pays for looking libpcap up.
    let wants_version = args.iter().any(|a| a == "--version" || a == "-V");
    let cmd = if wants_version {
        with_versions(cmd)
    } else {
        cmd
    };
    let cli = match Cli::from_arg_matches(&cmd.get_matches_from(args)) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Analyze(args) => app::analyze(&args),
        Command::Live(args) => app::live(&args),
        Command::Interfaces => app::interfaces(),
        Command::Check(args) => app::check(&args),
        Command::Ladder(args) => app::ladder(&args),
        Command::Explain { id } => app::explain(id.as_deref()),
        Command::Completions { shell } => {
            // Built in memory: the generator panics on a failed write (`| head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "tcpaudit", &mut script);
            io::stdout().write_all(&script).map(|()| ExitCode::SUCCESS)
        }
        Command::Man => io::stdout()
            .write_all(app::man_page().as_bytes())
            .map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        // What reaches here is a failed write (reading errors are reported by the commands).
        Err(e) => {
            eprintln!("tcpaudit: error: {e}");
            ExitCode::from(tcpaudit::app::exit::OUTPUT)
        }
    }
}

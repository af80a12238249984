//! `tcpaudit man`: the man page, generated so it cannot drift from `--help`. The prose
//! (name, synopsis, description, output formats, anomalies, exit status, examples) is written
//! by hand in man/head.roff and man/tail.roff; every option section comes from the clap
//! definition through clap_mangen. man/tcpaudit.1 is this output, checked by a test.

use clap::CommandFactory;
use clap_mangen::Man;

use crate::cli::Cli;

/// The subcommands whose options get a section, in the page's order.
const SECTIONS: [(&str, &str); 5] = [
    ("analyze", "ANALYZE OPTIONS"),
    ("live", "LIVE OPTIONS"),
    ("check", "CHECK OPTIONS"),
    ("ladder", "LADDER OPTIONS"),
    ("explain", "EXPLAIN"),
];

/// The whole man page, as roff.
pub fn man_page() -> String {
    let mut out =
        include_str!("../../man/head.roff").replace("{version}", env!("CARGO_PKG_VERSION"));
    let cli = Cli::command();
    for (name, title) in SECTIONS {
        let Some(sub) = cli.find_subcommand(name) else {
            continue;
        };
        let mut section = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = Man::new(sub.clone()).render_options_section(&mut section);
        let section = String::from_utf8_lossy(&section).replacen(
            ".SH OPTIONS",
            &format!(".SH \"{title}\""),
            1,
        );
        out.push_str(&section);
    }
    out.push_str(include_str!("../../man/tail.roff"));
    out
}

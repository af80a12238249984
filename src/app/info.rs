//! `tcpaudit interfaces` and `tcpaudit explain`: what can be captured on, what an anomaly id
//! (or a state, a conn_state code, a history letter) means.

use std::io::{self, Write};
use std::process::ExitCode;

use super::fail;
use crate::capture::live;
use crate::detect::AnomalyKind;

/// `tcpaudit interfaces`.
pub fn interfaces() -> io::Result<ExitCode> {
    let list = match live::interfaces() {
        Ok(l) => l,
        Err(msg) => return fail(msg),
    };
    let mut out = io::stdout().lock();
    for (i, itf) in list.iter().enumerate() {
        let desc = itf
            .description
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        writeln!(
            out,
            "{}.{}{desc} [{}]",
            i + 1,
            itf.name,
            itf.flags.join(", ")
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `tcpaudit explain [ID]`.
pub fn explain(id: Option<&str>) -> io::Result<ExitCode> {
    let mut out = io::stdout().lock();
    let Some(id) = id else {
        writeln!(
            out,
            "{:<24} {:<8} {:<10} summary",
            "id", "severity", "scope"
        )?;
        for k in AnomalyKind::ALL {
            let scope = k.scope().name();
            writeln!(
                out,
                "{:<24} {:<8} {:<10} {}",
                k.id(),
                k.severity(),
                scope,
                k.summary()
            )?;
        }
        writeln!(
            out,
            "\n`tcpaudit explain <id>` tells what an anomaly means, why it matters and how it is decided.\n\
             `tcpaudit explain states|conn_state|history` lists the other words a record prints: \
             RFC 9293 states\n(or one: TIME-WAIT), Zeek's conn_state codes (SF) and history \
             letters (d)."
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    let Some(k) = AnomalyKind::from_id(id) else {
        // The other words a record prints: states, conn_state codes, history letters.
        if let Some(text) = super::glossary::lookup(id) {
            write!(out, "{text}")?;
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("tcpaudit: error: {}", AnomalyKind::unknown(id));
        return Ok(ExitCode::from(2));
    };
    let e = crate::detect::explain(k);
    writeln!(
        out,
        "{} ({}, per {})\n",
        k.id(),
        k.severity(),
        k.scope().name()
    )?;
    for (title, text) in [
        ("What it means", e.meaning),
        ("Why it matters", e.why),
        ("How it is decided", e.rule),
    ] {
        writeln!(out, "{title}\n{}\n", wrap(text, 96))?;
    }
    if !e.tuning.is_empty() {
        writeln!(out, "Tuned by\n  {}", e.tuning)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Wraps `text` at `width` columns with a two-space indent.
fn wrap(text: &str, width: usize) -> String {
    let mut lines = Vec::new();
    let mut line = String::from(" ");
    for word in text.split_whitespace() {
        if line.len() + word.len() + 1 > width {
            lines.push(std::mem::replace(&mut line, String::from(" ")));
        }
        line.push(' ');
        line.push_str(word);
    }
    lines.push(line);
    lines.join("\n")
}

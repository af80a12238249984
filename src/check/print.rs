//! What `check` prints as it goes: a verdict per capture with the failures that explain it, and
//! a closing summary line.

use std::io::{self, Write};

use super::{CaptureResult, CheckReport, Outcome};

/// One capture's verdict, then its failed expectations (every one with `verbose`), each with its
/// details and the command that shows them.
pub(super) fn capture(out: &mut dyn Write, r: &CaptureResult, verbose: bool) -> io::Result<()> {
    let failed: Vec<&Outcome> = r.outcomes.iter().filter(|o| !o.passed).collect();
    let source = r
        .expect
        .as_ref()
        .map(|e| format!(" (expectations: {})", e.display()))
        .unwrap_or_default();
    if !r.errors.is_empty() {
        writeln!(out, "ERROR {}{source}", r.capture)?;
        for e in &r.errors {
            writeln!(out, "      {e}")?;
        }
    } else if failed.is_empty() {
        writeln!(
            out,
            "ok    {}: {} expectation{} hold{}",
            r.capture,
            r.outcomes.len(),
            if r.outcomes.len() == 1 { "" } else { "s" },
            if r.outcomes.len() == 1 { "s" } else { "" }
        )?;
    } else {
        writeln!(
            out,
            "FAIL  {}{source}: {} of {} expectations failed",
            r.capture,
            failed.len(),
            r.outcomes.len()
        )?;
    }
    for o in &r.outcomes {
        if o.passed && !verbose {
            continue;
        }
        let mark = if o.passed { "ok  " } else { "FAIL" };
        writeln!(out, "  {mark} {}: {}", o.name, o.message)?;
        for d in &o.details {
            writeln!(out, "         {d}")?;
        }
        if let Some(h) = &o.hint
            && !o.passed
        {
            writeln!(out, "         see: {h}")?;
        }
    }
    Ok(())
}

/// The closing line: captures, expectations, failures, and what was skipped.
pub(super) fn summary(out: &mut dyn Write, r: &CheckReport, verbose: bool) -> io::Result<()> {
    let total: usize = r.captures.iter().map(|c| c.outcomes.len()).sum();
    let errored = r.captures.iter().filter(|c| !c.errors.is_empty()).count();
    write!(
        out,
        "\ntcpaudit check: {} capture{}, {total} expectations, {} failed",
        r.captures.len(),
        if r.captures.len() == 1 { "" } else { "s" },
        r.failed()
    )?;
    if errored > 0 {
        write!(out, ", {errored} could not be checked")?;
    }
    if !r.skipped.is_empty() {
        write!(
            out,
            ", {} skipped (no expectations{})",
            r.skipped.len(),
            if verbose { ":" } else { "; -v lists them" }
        )?;
    }
    writeln!(out)?;
    if verbose {
        for s in &r.skipped {
            writeln!(out, "  skipped {s}")?;
        }
    }
    Ok(())
}

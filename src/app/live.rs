//! `tcpaudit live`: open the capture, drop privileges, run the monitor, print the final report.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{
    Named, fail, fail_input, fail_output, report_errors, sink_for, stream_files, view_for,
};
use crate::analyzer::Analyzer;
use crate::capture::CaptureWriter;
use crate::capture::live;
use crate::cli::LiveArgs;
use crate::config;
use crate::monitor::{self, MonitorConfig};

/// `tcpaudit live`.
pub fn live(args: &LiveArgs) -> io::Result<ExitCode> {
    let cfg = match args.opts.config() {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    let config::LiveSettings {
        capture: live_cfg,
        refresh,
        duration,
    } = match args.request().resolve() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let filter = live_cfg.filter.clone();
    let mut source = match live::open(&live_cfg) {
        Ok(s) => s,
        // A filter that does not compile is a bad argument; the rest (no such interface, no
        // privilege, no libpcap) is a capture that could not be opened.
        Err(e @ live::LiveError::Filter(_)) => return fail(e),
        Err(e) => return fail_input(e),
    };
    // Files are opened while still privileged; the analysis then runs as --user.
    let writer = match &args.write {
        Some(path) => {
            match CaptureWriter::create(
                path,
                source.info().link_type,
                source.info().snaplen,
                &args.interface,
            ) {
                Ok(w) => Some((path.clone(), w)),
                Err(e) => return fail_output(format!("{}: {e}", path.display())),
            }
        }
        None => None,
    };
    let streams = match stream_files(&args.opts) {
        Ok(s) => s,
        Err(f) => return f.exit(),
    };
    // The -o directory is made while privileged (and then probed as --user).
    if let Err(f) = super::output_dir(args.opts.format, &args.output) {
        return f.exit();
    }
    if live::is_root() && args.user != "root" {
        if let Err(msg) = live::drop_privileges(&args.user) {
            return fail(msg);
        }
        let dirs = [
            ("--write-streams", args.opts.write_streams.as_ref()),
            ("-o", args.output.output_dir.as_ref()),
        ];
        for (option, dir) in dirs {
            if let Some(dir) = dir
                && let Err(e) = config::probe_dir_writable(option, dir, &args.user)
            {
                return fail_output(e);
            }
        }
    }
    let mut analyzer = Analyzer::new(cfg);
    if let Some(s) = streams {
        analyzer.set_stream_sink(Box::new(s));
    }
    // Short enough for 80 columns (the filter aside): on a terminal the view is drawn below.
    eprintln!(
        "tcpaudit: listening on {} ({}, {}, snaplen {}){}",
        source.info().interface,
        source.info().backend,
        source.info().link_type,
        source.info().snaplen,
        filter
            .as_deref()
            .map(|f| format!(", filter '{f}'"))
            .unwrap_or_default()
    );

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while the final report is being written ends the process at once.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    let view = view_for(args.opts.format, io::stdout().is_terminal());
    // Records reach standard output in batches (the monitor flushes the sink when the capture
    // goes idle, at every refresh and at most 100 ms after a record), not one write per line.
    let mut sink = match sink_for(
        &args.opts,
        &args.output,
        args.wide,
        Named::new(
            io::BufWriter::with_capacity(1 << 16, io::stdout()),
            "standard output",
        ),
    ) {
        Ok(s) => s,
        Err(f) => return f.exit(),
    };
    let mut screen = io::stdout();
    let cfg = MonitorConfig {
        refresh,
        count: args.count,
        duration,
        view,
        writer,
        filter,
    };
    let outcome = monitor::run(
        source.as_mut(),
        analyzer,
        cfg,
        sink.as_mut(),
        &mut screen,
        &stop,
    )?;
    sink.finish(&outcome.summary, &outcome.run)?;
    drop(sink);
    let _ = io::stdout().flush();
    if let Some(c) = &outcome.run.capture {
        eprintln!(
            "tcpaudit: {} packets received by filter; dropped: {} by kernel, {} by interface",
            c.received, c.dropped, c.if_dropped
        );
    }
    report_errors(&outcome.run)
}

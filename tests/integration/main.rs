//! tcpaudit's integration tests: one test binary, one module per area.

// Every unsafe block (namespaces, packet sockets, signals) says why it is sound.
#![warn(clippy::undocumented_unsafe_blocks)]

// `analyze --app`: DNS, HTTP, TLS and sessions on real captures.
mod app;
// `tcpaudit check`: expectations passing and failing, baselines, JUnit XML, project fixtures.
mod check;
// Absurd frame timestamps: counted as capture clock faults, no panic, sane RTTs.
mod clock;
// The command line: output formats, limits, standard input, merged files, bad input, `explain`.
mod cli;
// The README against the tool: anomaly severities agree with the catalogue.
mod docs;
// Formats other tools read: Community IDs against Wireshark's.
mod formats;
// Listener statistics under real SYN floods (../shared/pcaps/stopddos) against tshark's figures.
mod flood_stats;
// Public captures in fixtures/corpus: conversations equal tshark's, format-specific facts hold.
mod fixtures;
// The source tree's shape: imports point down the layers, files stay short.
mod layers;
// Generated captures in fixtures/generated: every labelled connection is found as labelled.
mod generated;
// Anomaly precision and recall against the generator's ground-truth labels.
mod labels;
// `analyze --html` in a headless browser.
mod html;
// `tcpaudit ladder` against golden diagrams.
mod ladder;
// `analyze -w`: the frames of picked connections written out.
mod picked;
// `tcpaudit live` on a veth between two network namespaces (root): streaming, floods, stopping.
#[cfg(target_os = "linux")]
mod live;
// `live`, `interfaces` and `--filter` messages (privileges, bad filters, no libpcap); `--filter`.
#[cfg(target_os = "linux")]
mod live_cli;
// The live capture loop fed by a replayed capture file: records, status ticks, stopping.
#[cfg(target_os = "linux")]
mod live_replay;
// Helpers for the live tests (no tests): network namespaces, a running `tcpaudit live`.
#[cfg(target_os = "linux")]
mod live_util;
// Zeek logs, EVE records, CSV and Parquet read back by Zeek log readers and DuckDB.
mod outputs;
// tcpaudit in tmux panes of 80×24 and 200×50: tables fit, nothing is cut in two, the progress bar
// leaves no trace, the live view starts with its status line and fits (root).
#[cfg(target_os = "linux")]
mod terminal;
// Mutated fixtures through the whole analysis (the fuzz targets' drivers): no panic.
mod mutation;
// Helpers (no tests): the ../shared/pcaps corpus, tshark conversation tables, comparison.
mod oracle;
// Pipelines: exit statuses whatever happens to standard output, standard input read once.
mod pipelines;
// Reassembled streams equal PcapPlusPlus's expected payloads (fixtures/reassembly).
mod reassembly;
// Linux TCP recorded in network namespaces (fixtures/recordings): exactly the expected anomalies.
mod recordings;
// Header flags, ECN, windows, throughput and hops on recordings, against the kernel and tshark.
mod recordings_signals;
// Segment sanity on real captures: SPAN-port duplicates, checksums against tshark's validation.
mod sanity;
// The TCP notes on real captures: the ISN clock, back-off and give-up, the lost final ACK.
mod seeds;
// The ../shared/pcaps corpus: conversations, Zeek states, attacks, segment classes, RTTs.
mod shared_corpus;
// --threads gives the output of one thread.
mod threads;
// Helpers: running the binary, fixtures, JSON lines, pcap writing, `require`.
mod util;

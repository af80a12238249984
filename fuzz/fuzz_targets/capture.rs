//! A whole capture file (pcap or pcapng, plain or gzip) through the reader, decoder, connection
//! table, rules, application layer and sinks. The last byte also selects the configuration.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/drive.rs"]
mod drive;

fuzz_target!(|data: &[u8]| {
    drive::captures(&[data], data.last().copied().unwrap_or(0));
});

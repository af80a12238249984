//! The application-layer parsers (DNS over UDP and TCP, TLS handshakes, HTTP/1.x framing,
//! cookies and sessions) fed operations directly; see `drive::app_layer` for the layout.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/drive.rs"]
mod drive;

fuzz_target!(|data: &[u8]| drive::app_layer(data));

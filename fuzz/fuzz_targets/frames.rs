//! Frame sequences without a file around them, straight into the decoder and connection table,
//! with clock jumps; see `drive::frames` for the input layout.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/drive.rs"]
mod drive;

fuzz_target!(|data: &[u8]| drive::frames(data));

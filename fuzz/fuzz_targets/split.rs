//! A whole capture file on one table, on two threads and split among shards: the same events
//! every way (a differential target; see `drive::split`). The last byte selects the configuration.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/drive.rs"]
mod drive;

fuzz_target!(|data: &[u8]| {
    drive::split(data, data.last().copied().unwrap_or(0));
});

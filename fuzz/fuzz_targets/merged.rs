//! Two capture files read as one capture merged by time (`analyze A B`): the first two bytes
//! (big-endian) give the length of the first file, the rest is the second; the configuration
//! comes from the last byte.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../common/drive.rs"]
mod drive;

fuzz_target!(|data: &[u8]| {
    let [hi, lo, rest @ ..] = data else {
        return;
    };
    let cut = (usize::from(*hi) << 8 | usize::from(*lo)).min(rest.len());
    let (a, b) = rest.split_at(cut);
    drive::captures(&[a, b], data.last().copied().unwrap_or(0));
});

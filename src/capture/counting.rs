//! A byte count of what the capture files gave so far, for a progress display: raw bytes as
//! they are read from the file (before gzip decompression, so they compare with the file size).

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes read from the files of a capture set, shared with whoever shows progress. Updated once
/// per read (of up to a megabyte), never per packet.
#[derive(Clone, Debug, Default)]
pub struct BytesRead(Arc<AtomicU64>);

impl BytesRead {
    /// Bytes read so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// `input`, counting what is read from it here.
    pub(super) fn wrap(&self, input: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        Box::new(Counting {
            input,
            read: self.clone(),
        })
    }
}

/// A reader adding what it reads to a [`BytesRead`].
struct Counting {
    input: Box<dyn Read + Send>,
    read: BytesRead,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.read.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_counted() {
        let read = BytesRead::default();
        let mut r = read.wrap(Box::new(io::Cursor::new(vec![7u8; 10_000])));
        let mut sink = Vec::new();
        r.read_to_end(&mut sink).unwrap();
        assert_eq!(read.get(), 10_000);
    }
}

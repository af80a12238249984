//! Reading a capture on a second thread. The `read()` copy out of the page cache (or gzip
//! decompression) runs on one core while parsing runs on another: chunks of [`CHUNK`] bytes are
//! filled after [`HEAD`] bytes of headroom, where the consumer copies the partial record left over
//! from the previous chunk, so a record spanning two chunks is joined without copying the chunk.
//! Spent chunks go back to the reader thread; in steady state nothing is allocated.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

/// Headroom before the data of each chunk, for the previous chunk's unfinished record.
pub(crate) const HEAD: usize = 256 << 10;
/// Data bytes per chunk.
pub(crate) const CHUNK: usize = 1 << 20;
/// Filled chunks queued ahead of the parser.
const AHEAD: usize = 2;

/// The consumer's end of a reader thread.
pub(crate) struct Prefetcher {
    rx: Receiver<io::Result<Vec<u8>>>,
    back: SyncSender<Vec<u8>>,
}

impl Prefetcher {
    /// Starts a thread reading `input` to its end (or first error).
    pub fn spawn(mut input: Box<dyn Read + Send>) -> io::Result<Self> {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(AHEAD);
        let (back, back_rx) = sync_channel::<Vec<u8>>(AHEAD + 2);
        thread::Builder::new()
            .name("tcpaudit-read".into())
            .spawn(move || {
                loop {
                    let mut chunk = back_rx.try_recv().unwrap_or_default();
                    if chunk.len() != HEAD + CHUNK {
                        chunk.resize(HEAD + CHUNK, 0);
                    }
                    let mut n = 0;
                    let res = loop {
                        if n == CHUNK {
                            break Ok(());
                        }
                        match input.read(&mut chunk[HEAD + n..]) {
                            Ok(0) => break Ok(()),
                            Ok(k) => n += k,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => break Err(e),
                        }
                    };
                    // Data read before an error is delivered first; a chunk without data is the end.
                    if n > 0 || res.is_ok() {
                        chunk.truncate(HEAD + n);
                        if tx.send(Ok(chunk)).is_err() {
                            return; // the consumer is gone
                        }
                    }
                    if let Err(e) = res {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    if n == 0 {
                        return;
                    }
                }
            })?;
        Ok(Prefetcher { rx, back })
    }

    /// The next chunk: data at `[HEAD..]`; no data means the end of the stream.
    pub fn next(&self) -> io::Result<Vec<u8>> {
        self.rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the capture reader thread stopped")))
    }

    /// Returns a spent chunk for reuse (dropped if the pool is full or it is not chunk-sized).
    pub fn recycle(&self, chunk: Vec<u8>) {
        if chunk.len() == HEAD + CHUNK {
            let _ = self.back.try_send(chunk);
        }
    }
}

//! `--write-streams DIR`: each direction's reassembled bytes in a file of its own, named by
//! connection id, direction and four-tuple (as tcpflow does), e.g.
//! `000012-orig-192.168.1.2_52311-93.184.216.34_80.bin`.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::PathBuf;

use hashbrown::HashMap;

use crate::flow::StreamSink;
use crate::wire::{Endpoint, Side};

/// Files kept open at once; beyond it all are flushed and closed (and reopened to append).
const MAX_OPEN: usize = 256;

/// Writes streams into a directory.
pub struct StreamFiles {
    dir: PathBuf,
    open: HashMap<(u64, Side), BufWriter<File>>,
    created: HashSet<(u64, Side)>,
    error: Option<String>,
    /// Bytes written.
    pub bytes: u64,
}

impl StreamFiles {
    /// Creates `dir` if needed.
    pub fn new(dir: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        Ok(StreamFiles {
            dir,
            open: HashMap::new(),
            created: HashSet::new(),
            error: None,
            bytes: 0,
        })
    }

    /// The file name of one direction of a connection.
    pub fn name(id: u64, orig: Endpoint, resp: Endpoint, side: Side) -> String {
        let (src, dst) = if side == Side::Orig {
            (orig, resp)
        } else {
            (resp, orig)
        };
        let addr = |a: IpAddr| a.to_string().replace(':', ".");
        format!(
            "{id:06}-{}-{}_{}-{}_{}.bin",
            side.name(),
            addr(src.addr),
            src.port,
            addr(dst.addr),
            dst.port
        )
    }

    fn writer(
        &mut self,
        id: u64,
        orig: Endpoint,
        resp: Endpoint,
        side: Side,
    ) -> io::Result<&mut BufWriter<File>> {
        if !self.open.contains_key(&(id, side)) {
            if self.open.len() >= MAX_OPEN {
                for (_, mut w) in self.open.drain() {
                    w.flush()?;
                }
            }
            let path = self.dir.join(Self::name(id, orig, resp, side));
            // A run starts every file afresh; later openings (after closing for the bound)
            // append.
            let first = self.created.insert((id, side));
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .append(!first)
                .truncate(first)
                .open(path)?;
            self.open
                .insert((id, side), BufWriter::with_capacity(32 << 10, f));
        }
        Ok(self.open.get_mut(&(id, side)).expect("inserted above"))
    }
}

impl StreamSink for StreamFiles {
    fn data(&mut self, id: u64, orig: Endpoint, resp: Endpoint, side: Side, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let dir = self.dir.display().to_string();
        match self
            .writer(id, orig, resp, side)
            .and_then(|w| w.write_all(bytes))
        {
            Ok(()) => self.bytes += bytes.len() as u64,
            Err(e) => self.error = Some(format!("{dir}: cannot write streams: {e}")),
        }
    }

    fn close(&mut self, id: u64) {
        for side in [Side::Orig, Side::Resp] {
            if let Some(mut w) = self.open.remove(&(id, side))
                && let Err(e) = w.flush()
            {
                self.error
                    .get_or_insert(format!("{}: cannot write streams: {e}", self.dir.display()));
            }
        }
    }

    fn finish(&mut self) -> Result<(), String> {
        for (_, mut w) in self.open.drain() {
            if let Err(e) = w.flush() {
                self.error
                    .get_or_insert(format!("{}: cannot write streams: {e}", self.dir.display()));
            }
        }
        self.error.take().map_or(Ok(()), Err)
    }
}

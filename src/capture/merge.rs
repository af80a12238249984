//! Several capture files read as one capture, merged by timestamp (rotated files, per-interface
//! captures). A file that fails part-way stops contributing; its error is kept for the report.

use super::{BytesRead, CaptureError, CaptureFile, Packet};

/// Most files read ahead on threads of their own (each holds about 5 MiB of chunks).
pub const PREFETCH_MAX_FILES: usize = 16;

/// Which files of a [`CaptureSet`] are read ahead, each on a thread of its own that reads (and
/// decompresses) while the packets already read are parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadAhead {
    /// Every file: parsing then never waits on the `read()` copy out of the page cache, for the
    /// CPU of another thread.
    All,
    /// Compressed files only: a thread that reads and decodes with time to spare (a two-thread
    /// run whose engine writes the output) copies plain files itself, which costs less CPU in
    /// all than handing the chunks over, and no more time; decompressing is too much to add.
    Compressed,
}

/// A set of capture files yielding packets in timestamp order (ties go to the earlier file).
#[derive(Debug, Default)]
pub struct CaptureSet {
    files: Vec<CaptureFile>,
    live: Vec<bool>,
    errors: Vec<CaptureError>,
}

impl CaptureSet {
    /// Opens every path (`-` is standard input). Files that cannot be opened are recorded as errors
    /// and the rest are still read. Up to `PREFETCH_MAX_FILES` files are each read ahead on a
    /// thread of their own; larger sets are read in place to bound threads and memory.
    pub fn open(paths: &[String]) -> Self {
        Self::open_counted(paths, None, ReadAhead::All)
    }

    /// [`open`](Self::open), adding the bytes read from every file to `read` (for a progress
    /// display), with the files `ahead` says read ahead (up to `PREFETCH_MAX_FILES` files).
    pub fn open_counted(paths: &[String], read: Option<&BytesRead>, ahead: ReadAhead) -> Self {
        let mut set = CaptureSet::default();
        let room = paths.len() <= PREFETCH_MAX_FILES;
        for p in paths {
            let opened = CaptureFile::open_counted(p, read).and_then(|mut f| {
                if room && (ahead == ReadAhead::All || f.compressed()) {
                    f.read_ahead()?;
                }
                Ok(f)
            });
            match opened {
                Ok(f) => set.push(f),
                Err(e) => set.errors.push(e),
            }
        }
        set
    }

    /// `path`, an uncompressed pcap file, read from the record at byte `offset` on.
    pub fn resume_at(path: &str, offset: u64) -> Result<Self, CaptureError> {
        let mut set = CaptureSet::default();
        set.push(CaptureFile::resume_at(path, offset)?);
        Ok(set)
    }

    /// Adds an already opened file.
    pub fn push(&mut self, f: CaptureFile) {
        self.files.push(f);
        self.live.push(true);
    }

    /// The files being read.
    pub fn files(&self) -> &[CaptureFile] {
        &self.files
    }

    /// Errors met so far (opening or reading).
    pub fn errors(&self) -> &[CaptureError] {
        &self.errors
    }

    /// The next packet in time order across all files, or `None` when every file is exhausted.
    pub fn next_packet(&mut self) -> Option<Packet<'_>> {
        // One file (the common case): nothing to merge.
        if self.files.len() == 1 {
            return self.next_of_one();
        }
        let mut best: Option<(usize, crate::time::Timestamp)> = None;
        for i in 0..self.files.len() {
            if !self.live[i] {
                continue;
            }
            match self.files[i].peek_ts() {
                Ok(Some(ts)) => {
                    if best.is_none_or(|(_, b)| ts < b) {
                        best = Some((i, ts));
                    }
                }
                Ok(None) => self.live[i] = false,
                Err(e) => {
                    self.live[i] = false;
                    self.errors.push(e);
                }
            }
        }
        let (idx, _) = best?;
        // The packet was located by peek_ts above, so this cannot fail or be empty.
        self.files[idx].next_packet().ok().flatten()
    }

    /// The next packet of the only file.
    fn next_of_one(&mut self) -> Option<Packet<'_>> {
        if !self.live[0] {
            return None;
        }
        match self.files[0].next_packet() {
            Ok(Some(p)) => Some(p),
            Ok(None) => {
                self.live[0] = false;
                None
            }
            Err(e) => {
                self.live[0] = false;
                self.errors.push(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{CaptureSet, ReadAhead};

    /// The files of a set are read ahead as asked: every one, or only the compressed ones (the
    /// plain one is then read in place). Either way the set gives the same packets.
    #[test]
    fn only_compressed_files_are_read_ahead_when_asked() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let paths = [
            format!("{dir}/fixtures/generated/mixed.pcapng.gz"),
            format!("{dir}/fixtures/generated/flood.pcap"),
        ];
        let ahead = |a| {
            let set = CaptureSet::open_counted(&paths, None, a);
            assert!(set.errors().is_empty(), "{:?}", set.errors());
            set.files()
                .iter()
                .map(|f| f.reads_ahead())
                .collect::<Vec<_>>()
        };
        assert_eq!(ahead(ReadAhead::All), [true, true]);
        assert_eq!(ahead(ReadAhead::Compressed), [true, false]);
        let packets = |a| {
            let mut set = CaptureSet::open_counted(&paths, None, a);
            let mut all = Vec::new();
            while let Some(p) = set.next_packet() {
                all.push((p.ts, p.data.to_vec()));
            }
            all
        };
        let read_ahead = packets(ReadAhead::All);
        assert!(read_ahead.len() > 1_000, "{}", read_ahead.len());
        assert_eq!(packets(ReadAhead::Compressed), read_ahead);
    }
}

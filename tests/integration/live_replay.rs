//! The live capture loop (`tcpaudit::monitor::run`) fed by a replayed capture file instead of a
//! network: no privileges needed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

/// Frames of a capture file served as if they arrived live, then silence.
struct Replay {
    frames: Vec<(tcpaudit::time::Timestamp, Vec<u8>, u32)>,
    next: usize,
    info: tcpaudit::capture::live::SourceInfo,
}

impl tcpaudit::capture::live::LiveSource for Replay {
    fn next_packet(
        &mut self,
        wait: Duration,
    ) -> Result<Option<tcpaudit::capture::Packet<'_>>, tcpaudit::capture::live::LiveError> {
        let Some((ts, data, len)) = self.frames.get(self.next) else {
            std::thread::sleep(wait);
            return Ok(None);
        };
        self.next += 1;
        Ok(Some(tcpaudit::capture::Packet {
            ts: *ts,
            link_type: self.info.link_type,
            data,
            orig_len: *len,
        }))
    }
    fn stats(&mut self) -> tcpaudit::capture::live::CaptureStats {
        tcpaudit::capture::live::CaptureStats {
            received: self.next as u64,
            ..Default::default()
        }
    }
    fn info(&self) -> &tcpaudit::capture::live::SourceInfo {
        &self.info
    }
}

impl Replay {
    /// The frames of fixture `name`, served from the first.
    fn of(name: &str) -> Replay {
        let path = fixture(name);
        let mut file = tcpaudit::capture::CaptureFile::open(path.to_str().unwrap(), false).unwrap();
        let mut frames = Vec::new();
        let mut link = tcpaudit::capture::LinkType::ETHERNET;
        while let Some(p) = file.next_packet().unwrap() {
            link = p.link_type;
            frames.push((p.ts, p.data.to_vec(), p.orig_len));
        }
        Replay {
            frames,
            next: 0,
            info: tcpaudit::capture::live::SourceInfo {
                interface: "replay0".into(),
                backend: "replay",
                link_type: link,
                snaplen: 65535,
            },
        }
    }
}

/// A live run writing JSON lines, a status record every `refresh`, until stopped.
fn json_monitor(refresh: Duration) -> tcpaudit::monitor::MonitorConfig {
    tcpaudit::monitor::MonitorConfig {
        refresh,
        count: None,
        duration: None,
        view: tcpaudit::monitor::View::Json,
        writer: None,
        filter: None,
    }
}

/// The capture loop itself, without a network or privileges: records and status stream out,
/// quiet time moves the timers on the wall clock, a stop request ends the run with the summary.
#[test]
fn monitor_loop_streams_ticks_and_stops() {
    use tcpaudit::monitor::run;
    let mut source = Replay::of("recordings/normal_http.pcap");
    let n = source.frames.len() as u64;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = Arc::clone(&stop);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        s2.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let mut out = Vec::new();
    let mut screen = Vec::new();
    let outcome = {
        let mut sink = tcpaudit::report::JsonSink::new(&mut out);
        let cfg = json_monitor(Duration::from_millis(100));
        let analyzer = tcpaudit::analyzer::Analyzer::new(Default::default());
        let started = Instant::now();
        let o = run(&mut source, analyzer, cfg, &mut sink, &mut screen, &stop).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the stop request was not honoured"
        );
        use tcpaudit::report::Sink;
        sink.finish(&o.summary, &o.run).unwrap();
        o
    };
    let recs = json_lines(&out);
    // The recording's clock is long past: on the first quiet moment the connection's TIME-WAIT
    // (2*MSL after its last segment) is over, so it leaves the table during the run.
    let conns = connections(&recs);
    assert_eq!(conns.len(), 1);
    let status: Vec<&Value> = recs.iter().filter(|r| r["type"] == "status").collect();
    assert!(status.len() >= 3, "{} status records", status.len());
    assert_eq!(status.last().unwrap()["tracked"], 0);
    let first_status = recs.iter().position(|r| r["type"] == "status").unwrap();
    let conn_at = recs.iter().position(|r| r["type"] == "connection").unwrap();
    let summary_at = recs.iter().position(|r| r["type"] == "summary").unwrap();
    assert!(conn_at < summary_at && first_status < summary_at);
    let s = summary(&recs);
    assert_eq!(s["packets"], n);
    assert_eq!(s["capture"]["interface"], "replay0");
    assert_eq!(s["capture"]["received"], n);
    assert_eq!(outcome.summary.packets, n);
    assert!(screen.is_empty(), "JSON runs draw nothing");
}

/// What reaches a writer: its bytes and how many writes brought them.
#[derive(Clone, Default)]
struct Counted(Arc<Mutex<(Vec<u8>, usize)>>);

impl std::io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut g = self.0.lock().unwrap();
        g.0.extend_from_slice(buf);
        g.1 += 1;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Records leave in batches, not one write per line, and every record decided is written out
/// as soon as the capture goes quiet, long before the next refresh or the end of the run.
#[test]
fn monitor_writes_records_in_batches_and_all_of_them_when_the_capture_goes_quiet() {
    use tcpaudit::monitor::run;
    let mut source = Replay::of("generated/mixed.pcap");
    let written = Counted::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s2, w2) = (Arc::clone(&stop), written.clone());
    // What had been written when the stop was asked, well after the frames ran out.
    let at_stop = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        let g = w2.0.lock().unwrap();
        let snapshot = (g.0.clone(), g.1);
        s2.store(true, std::sync::atomic::Ordering::Relaxed);
        snapshot
    });
    let mut screen = Vec::new();
    let mut sink = tcpaudit::report::JsonSink::new(std::io::BufWriter::with_capacity(
        1 << 16,
        written.clone(),
    ));
    // No refresh within the run: only the quiet capture can have flushed the records.
    let cfg = json_monitor(Duration::from_secs(30));
    let analyzer = tcpaudit::analyzer::Analyzer::new(Default::default());
    let o = run(&mut source, analyzer, cfg, &mut sink, &mut screen, &stop).unwrap();
    use tcpaudit::report::Sink;
    sink.finish(&o.summary, &o.run).unwrap();
    drop(sink);
    let (before_stop, writes_before_stop) = at_stop.join().unwrap();
    let all = json_lines(&written.0.lock().unwrap().0);
    let early = json_lines(&before_stop);
    let conns = connections(&all).len();
    assert_eq!(conns, 349, "mixed holds 349 connection records");
    // The capture's clock is long past: its connections all ended at the first quiet moment,
    // and were written out then.
    assert_eq!(connections(&early).len(), conns);
    assert!(
        writes_before_stop * 10 < early.len(),
        "{writes_before_stop} writes for {} lines",
        early.len()
    );
}

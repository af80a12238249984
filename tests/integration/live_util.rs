//! Helpers of the live-capture tests (no tests): two network namespaces joined by a veth pair,
//! a running `tcpaudit live` whose output is collected as it arrives, HTTP-like traffic, and
//! frames injected through a packet socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command as Proc, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::*;

/// Whether this process runs as root (namespaces, packet sockets, other users need it).
pub fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    Proc::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether libpcap can be loaded at run time (filters and the pcap backend need it).
pub fn libpcap_present() -> bool {
    tcpaudit::capture::libpcap::libpcap().is_ok()
}

/// Runs a command, failing the test with its stderr if it fails.
pub fn sh(args: &[&str]) {
    let out = Proc::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether a live test can run here: root and iproute2 (see [`require`]: under CI a missing
/// one fails the test).
pub fn live_prerequisites() -> bool {
    require(is_root(), "live capture needs root (CI runs as root)")
        && require(have("ip"), "needs iproute2 (apt-get install -y iproute2)")
}

/// Two namespaces joined by a veth pair: client 10.231.0.1 (`tcpa-c`), server 10.231.0.2
/// (`tcpa-s`). Deleted when dropped.
pub struct Netns {
    /// The client's namespace (`tcpa-c` lives there).
    pub client: String,
    /// The server's namespace (`tcpa-s` lives there).
    pub server: String,
}

/// The client's address on the veth.
pub const CLIENT_IP: &str = "10.231.0.1";
/// The server's address on the veth.
pub const SERVER_IP: &str = "10.231.0.2";
/// The client's MAC address on the veth.
pub const CLIENT_MAC: &str = "02:31:00:00:00:01";
/// The server's MAC address on the veth.
pub const SERVER_MAC: &str = "02:31:00:00:00:02";

impl Netns {
    /// Creates both namespaces and the veth pair, named after `tag` and this process.
    pub fn new(tag: &str) -> Netns {
        let id = std::process::id();
        let n = Netns {
            client: format!("tcpa-{tag}-{id}-c"),
            server: format!("tcpa-{tag}-{id}-s"),
        };
        for ns in [&n.client, &n.server] {
            let _ = Proc::new("ip").args(["netns", "del", ns]).output();
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            sh(&[
                "ip",
                "netns",
                "exec",
                ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
            ]);
        }
        sh(&[
            "ip", "link", "add", "tcpa-c", "address", CLIENT_MAC, "netns", &n.client, "type",
            "veth", "peer", "name", "tcpa-s", "address", SERVER_MAC, "netns", &n.server,
        ]);
        sh(&[
            "ip",
            "-n",
            &n.client,
            "addr",
            "add",
            &format!("{CLIENT_IP}/24"),
            "dev",
            "tcpa-c",
        ]);
        sh(&[
            "ip",
            "-n",
            &n.server,
            "addr",
            "add",
            &format!("{SERVER_IP}/24"),
            "dev",
            "tcpa-s",
        ]);
        sh(&["ip", "-n", &n.client, "link", "set", "tcpa-c", "up"]);
        sh(&["ip", "-n", &n.server, "link", "set", "tcpa-s", "up"]);
        n
    }

    /// Runs `f` on a thread inside namespace `ns` (network namespaces are per thread).
    pub fn run<T: Send + 'static>(
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/run/netns/{ns}");
        std::thread::spawn(move || {
            let fd = std::fs::File::open(&path).unwrap();
            // SAFETY: enters the namespace for this thread only.
            let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.client, &self.server] {
            let _ = Proc::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// A running `tcpaudit live` whose output lines are collected as they arrive.
pub struct Live {
    child: Child,
    /// Standard output, one entry per line, as it arrives.
    pub lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Live {
    /// Runs `tcpaudit <args>` in namespace `ns` and waits until it is listening.
    pub fn start(ns: &str, args: &[&str]) -> Live {
        let bin = assert_cmd::cargo::cargo_bin("tcpaudit");
        let mut child = Proc::new("ip")
            .args(["netns", "exec", ns])
            .arg(bin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().unwrap();
        let l = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let e = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                e.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let live = Live {
            child,
            lines,
            stderr,
        };
        assert!(
            live.wait_for(|| live.stderr.lock().unwrap().contains("listening on")),
            "tcpaudit did not start: {}",
            live.stderr.lock().unwrap()
        );
        live
    }

    /// Polls `cond` for up to 10 s; whether it became true.
    pub fn wait_for(&self, cond: impl Fn() -> bool) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Whether an output line so far contains `needle`.
    pub fn has_line(&self, needle: &str) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    /// Sends SIGTERM and waits for the final output; returns (exit code, stdout lines, stderr).
    pub fn stop(mut self) -> (i32, Vec<String>, String) {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let lines = self.lines.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status.code().unwrap_or(-1), lines, err)
    }
}

/// An HTTP-like exchange: request, response, both close.
pub fn http_exchange(port: u16) {
    let mut c = TcpStream::connect((SERVER_IP, port)).unwrap();
    c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).unwrap();
    assert!(buf.starts_with(b"HTTP/1.1 200 OK"));
}

/// Serves `n` connections on `port`: reads a request, answers, closes.
pub fn http_server(port: u16, n: usize) -> impl FnOnce() + Send + 'static {
    move || {
        let l = TcpListener::bind((SERVER_IP, port)).unwrap();
        for _ in 0..n {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n")
                .unwrap();
            s.write_all(&[b'x'; 600]).unwrap();
        }
    }
}

/// The JSON records among collected output lines.
pub fn json(lines: &[String]) -> Vec<Value> {
    json_lines(lines.join("\n").as_bytes())
}

/// The connection record to `port` (fails the test if there is none).
pub fn conn_to(recs: &[Value], port: u16) -> Value {
    connections(recs)
        .into_iter()
        .find(|c| c["resp_port"] == port)
        .unwrap_or_else(|| panic!("no connection to port {port}"))
}

/// Sends `frames` out of `iface` through a packet socket (call from inside the namespace).
pub fn inject(iface: &str, frames: &[Vec<u8>]) {
    // SAFETY: a packet socket bound to one interface; every call checks its result.
    unsafe {
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        let name = std::ffi::CString::new(iface).unwrap();
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
        let rc = libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
        for f in frames {
            let n = libc::send(fd, f.as_ptr().cast(), f.len(), 0);
            assert_eq!(n, f.len() as isize, "{}", std::io::Error::last_os_error());
        }
        libc::close(fd);
    }
}

/// A MAC address from its `aa:bb:..` text.
pub fn mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

//! Live capture: an AF_PACKET TPACKET_V3 ring on Linux (the default there), or libpcap loaded
//! at run time anywhere it runs. Both yield borrowed [`Packet`]s like the file readers, count
//! what the kernel dropped, and take the same BPF filters.

#[cfg(target_os = "linux")]
mod afpacket;
mod pcap;
mod privileges;

use std::time::Duration;

pub use privileges::{PrivilegeError, drop_privileges, is_root};

use super::libpcap::{INSTALL_HINT, LibpcapError};
use super::{LinkType, Packet};

/// Which capture mechanism to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// AF_PACKET on Linux, libpcap elsewhere.
    Auto,
    /// Linux AF_PACKET with a TPACKET_V3 ring.
    AfPacket,
    /// libpcap, loaded at run time.
    Pcap,
}

/// How to open a live capture.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    /// Interface name (`eth0`; `any` for every interface).
    pub interface: String,
    /// Bytes kept of each frame.
    pub snaplen: u32,
    /// Put the interface in promiscuous mode.
    pub promisc: bool,
    /// Kernel buffer (ring) size in bytes.
    pub buffer_bytes: usize,
    /// A tcpdump filter expression, compiled by libpcap and run in the kernel.
    pub filter: Option<String>,
    /// Capture mechanism.
    pub backend: Backend,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            interface: String::new(),
            snaplen: 262_144,
            promisc: true,
            buffer_bytes: 64 << 20,
            filter: None,
            backend: Backend::Auto,
        }
    }
}

/// Packets the capture saw and lost, since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames the kernel passed the filter (delivered plus dropped).
    pub received: u64,
    /// Frames the kernel dropped because the ring or buffer was full.
    pub dropped: u64,
    /// Frames the interface or driver dropped (libpcap's ps_ifdrop; 0 where unknown).
    pub if_dropped: u64,
    /// Frames a loopback device showed twice (sent and received): the sent copy is counted in
    /// `received` but not analysed.
    pub loopback_copies: u64,
    /// Frames counted in `received` that a filter run in user space (`any`) rejected.
    pub user_filtered: u64,
}

/// Why a live capture could not be opened or read, or the interfaces could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No permission to open a packet socket.
    #[error(
        "cannot capture on {interface}: permission denied ({detail})\n\n\
         Live capture needs the CAP_NET_RAW capability (CAP_NET_ADMIN is not required).\n  \
         1. run as root:                sudo {exe} live -i {interface}\n  \
         2. or grant it to the binary:  sudo setcap cap_net_raw=eip {exe}\n     \
         (anyone who can run the binary can then see all traffic; repeat after every\n      \
         rebuild; ignored on nosuid mounts)\n  \
         3. in a container:             --cap-add=NET_RAW --net=host\n\
         Reading capture files needs no privileges:  tcpaudit analyze capture.pcapng"
    )]
    PermissionDenied {
        /// The interface.
        interface: String,
        /// The operating system's or libpcap's words.
        detail: String,
        /// This program's path, for the commands the message suggests.
        exe: String,
    },
    /// No such interface.
    #[error("no interface named '{interface}' (`tcpaudit interfaces` lists them)")]
    NoSuchInterface {
        /// The interface asked for.
        interface: String,
    },
    /// A filter was given, and libpcap (which compiles filters) could not be loaded.
    #[error("filter expressions need libpcap at run time: {0}")]
    FilterNeedsLibpcap(LibpcapError),
    /// The filter does not compile, or the capture refused it.
    #[error(transparent)]
    Filter(LibpcapError),
    /// libpcap is needed (backend `pcap`, or listing interfaces) and failing.
    #[error(transparent)]
    Libpcap(LibpcapError),
    /// libpcap could not open or activate the interface.
    #[error("{interface}: {reason}")]
    Open {
        /// The interface.
        interface: String,
        /// libpcap's words.
        reason: String,
    },
    /// libpcap failed while reading packets.
    #[error("{reason}")]
    Read {
        /// libpcap's words.
        reason: String,
    },
    /// AF_PACKET was asked for where it does not exist.
    #[error("AF_PACKET exists only on Linux; use --backend pcap")]
    AfPacketUnsupported,
    /// Listing interfaces where only libpcap knows them, and libpcap is missing.
    #[error("listing interfaces needs libpcap here: {INSTALL_HINT}")]
    InterfacesNeedLibpcap,
    /// A system call failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

impl LiveError {
    /// No permission to capture on `interface`. The message names this program's path (as
    /// found now; `tcpaudit` if unknown), so its commands can be pasted as they are.
    pub fn permission_denied(interface: &str, detail: String) -> Self {
        let exe = std::env::current_exe()
            .ok()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "tcpaudit".into());
        LiveError::PermissionDenied {
            interface: interface.to_string(),
            detail,
            exe,
        }
    }
}

/// What a live capture reads, fixed when it is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    /// The interface.
    pub interface: String,
    /// `afpacket` or `pcap`.
    pub backend: &'static str,
    /// Link-layer type of the frames.
    pub link_type: LinkType,
    /// Bytes kept of each frame.
    pub snaplen: u32,
}

/// A running live capture.
pub trait LiveSource {
    /// The next frame, or `None` when `wait` passed without one (so the caller can refresh its
    /// view, check for a stop request or advance its timers).
    fn next_packet(&mut self, wait: Duration) -> Result<Option<Packet<'_>>, LiveError>;
    /// Whether the last [`Self::next_packet`] waited for the kernel, so that time has passed
    /// since the call before; a frame taken from a batch the kernel had already handed over
    /// (a ring block) did not. A source that cannot tell says it waited.
    fn waited(&self) -> bool {
        true
    }
    /// What the kernel counted so far.
    fn stats(&mut self) -> CaptureStats;
    /// The interface, backend, link type and snaplen.
    fn info(&self) -> &SourceInfo;
}

/// Opens a live capture with the configured backend.
pub fn open(cfg: &LiveConfig) -> Result<Box<dyn LiveSource>, LiveError> {
    match cfg.backend {
        #[cfg(target_os = "linux")]
        Backend::Auto | Backend::AfPacket => Ok(Box::new(afpacket::Ring::open(cfg)?)),
        #[cfg(not(target_os = "linux"))]
        Backend::AfPacket => Err(LiveError::AfPacketUnsupported),
        #[cfg(not(target_os = "linux"))]
        Backend::Auto => Ok(Box::new(pcap::PcapLive::open(cfg)?)),
        Backend::Pcap => Ok(Box::new(pcap::PcapLive::open(cfg)?)),
    }
}

/// One capturable interface.
#[derive(Clone, Debug)]
pub struct Interface {
    /// Name to pass to `-i`.
    pub name: String,
    /// Description, where known.
    pub description: Option<String>,
    /// Flags in tcpdump -D's words (`Up`, `Running`, `Loopback`, ...).
    pub flags: Vec<&'static str>,
}

/// Capturable interfaces: libpcap's list when libpcap loads (as `tcpdump -D`), otherwise the
/// kernel's (Linux: /sys/class/net, plus `any`).
pub fn interfaces() -> Result<Vec<Interface>, LiveError> {
    if let Ok(lib) = super::libpcap::libpcap() {
        return lib
            .interfaces()
            .map(|v| {
                v.into_iter()
                    .map(|i| Interface {
                        flags: i.flag_words(),
                        name: i.name,
                        description: i.description,
                    })
                    .collect()
            })
            .map_err(LiveError::Libpcap);
    }
    #[cfg(target_os = "linux")]
    {
        afpacket::interfaces()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Err(LiveError::InterfacesNeedLibpcap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_message_says_how_to_get_the_capability() {
        let e = LiveError::PermissionDenied {
            interface: "eth0".into(),
            detail: "socket: Operation not permitted".into(),
            exe: "/opt/bin/tcpaudit".into(),
        };
        let expected = [
            "cannot capture on eth0: permission denied (socket: Operation not permitted)",
            "",
            "Live capture needs the CAP_NET_RAW capability (CAP_NET_ADMIN is not required).",
            "  1. run as root:                sudo /opt/bin/tcpaudit live -i eth0",
            "  2. or grant it to the binary:  sudo setcap cap_net_raw=eip /opt/bin/tcpaudit",
            "     (anyone who can run the binary can then see all traffic; repeat after every",
            "      rebuild; ignored on nosuid mounts)",
            "  3. in a container:             --cap-add=NET_RAW --net=host",
            "Reading capture files needs no privileges:  tcpaudit analyze capture.pcapng",
        ]
        .join("\n");
        assert_eq!(e.to_string(), expected);
    }

    #[test]
    fn libpcap_messages_are_passed_through() {
        let bad = LibpcapError::BadFilter {
            expr: "tcp port".into(),
            reason: "syntax error".into(),
        };
        assert_eq!(
            LiveError::Filter(bad.clone()).to_string(),
            "bad filter 'tcp port': syntax error"
        );
        let open = LiveError::Open {
            interface: "eth9".into(),
            reason: "No such device exists".into(),
        };
        assert_eq!(open.to_string(), "eth9: No such device exists");
        let missing = LibpcapError::NotFound {
            library: "libpcap.so.1",
            reason: "cannot open shared object file".into(),
        };
        assert_eq!(
            LiveError::FilterNeedsLibpcap(missing).to_string(),
            format!(
                "filter expressions need libpcap at run time: libpcap could not be loaded \
                 (libpcap.so.1: cannot open shared object file); {INSTALL_HINT}"
            )
        );
    }
}

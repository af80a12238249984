//! Linux AF_PACKET capture through a TPACKET_V3 memory-mapped ring: the kernel fills blocks of
//! frames with nanosecond timestamps and hands a whole block over at once, so reading costs no
//! system call per packet; `PACKET_STATISTICS` counts what it dropped. A BPF filter compiled by
//! libpcap runs in the kernel (`SO_ATTACH_FILTER`).

use std::ffi::CString;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{Ordering, fence};
use std::time::Duration;

use super::{CaptureStats, Interface, LiveConfig, LiveError, LiveSource, SourceInfo};
use crate::capture::libpcap::{BpfProgram, Libpcap, libpcap};
use crate::time::Timestamp;
use crate::wire::{LinkType, Packet};

/// Bytes per ring block: large enough for hundreds of frames, small enough that a light trickle
/// of packets still leaves blocks free.
const BLOCK_SIZE: usize = 1 << 20;
/// Frame slot size; TPACKET_V3 packs frames of any size into blocks, this only has to divide.
const FRAME_SIZE: u32 = 1 << 11;
/// A block the kernel has started filling is handed over after this many milliseconds even if
/// not full, so a quiet link is still seen promptly (and a stop request loses nothing).
pub(super) const RETIRE_MS: u32 = 50;
/// `sll_pkttype` of frames the host sent.
const PACKET_OUTGOING: u8 = 4;
/// Linux cooked capture (v1) header length.
const SLL_LEN: usize = 16;

/// An open AF_PACKET ring.
pub struct Ring {
    fd: OwnedFd,
    map: *mut u8,
    map_len: usize,
    blocks: usize,
    /// Block being read, and the packets left in it with the offset of the next.
    current: usize,
    cursor: Option<(u32, usize)>,
    info: SourceInfo,
    /// `any`: frames arrive without link header; a cooked header is prepended.
    cooked: bool,
    /// Loopback devices show every frame twice (sent and received): the sent copy is skipped.
    loopback_ifindex: Option<i32>,
    /// A filter run here rather than in the kernel (`any`).
    user_filter: Option<(BpfProgram, &'static Libpcap)>,
    stats: CaptureStats,
    scratch: Vec<u8>,
    /// Whether the last call to `next_packet` polled the socket (see
    /// [`LiveSource::waited`]).
    waited: bool,
}

// SAFETY: the ring mapping is owned by this value alone and only touched through &mut self.
unsafe impl Send for Ring {}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `map` came from mmap with `map_len` and is unmapped once.
        unsafe {
            libc::munmap(self.map.cast(), self.map_len);
        }
    }
}

fn last_os_error(what: impl Into<String>) -> LiveError {
    LiveError::Io {
        what: what.into(),
        source: io::Error::last_os_error(),
    }
}

fn setsockopt<T>(fd: i32, level: i32, name: i32, value: &T, what: &str) -> Result<(), LiveError> {
    // SAFETY: `value` is a live, correctly sized option value for this option.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(last_os_error(what));
    }
    Ok(())
}

/// The ARPHRD_* hardware type of an interface (from sysfs).
fn hardware_type(name: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/type"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Ring {
    /// Opens a ring on `cfg.interface` (`any`: every interface, cooked).
    pub fn open(cfg: &LiveConfig) -> Result<Ring, LiveError> {
        let any = cfg.interface == "any";
        let ifindex = if any {
            0
        } else {
            let c =
                CString::new(cfg.interface.as_str()).map_err(|_| LiveError::NoSuchInterface {
                    interface: cfg.interface.clone(),
                })?;
            // SAFETY: a NUL-terminated name.
            let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
            if i == 0 {
                return Err(LiveError::NoSuchInterface {
                    interface: cfg.interface.clone(),
                });
            }
            i as i32
        };
        // ARPHRD_ETHER (1), ARPHRD_LOOPBACK (772) and 802.x types carry Ethernet headers; other
        // devices (tun, GRE, PPP) are read without their link header, as raw IP.
        let hw = if any {
            None
        } else {
            hardware_type(&cfg.interface)
        };
        let ethernet = matches!(hw, Some(1) | Some(6) | Some(772));
        let (sock_type, link, cooked) = if any {
            (libc::SOCK_DGRAM, LinkType::LINUX_SLL, true)
        } else if ethernet {
            (libc::SOCK_RAW, LinkType::ETHERNET, false)
        } else {
            (libc::SOCK_DGRAM, LinkType::RAW, false)
        };

        // Compile first: a bad filter should fail before any privilege question.
        let program = match &cfg.filter {
            Some(expr) => {
                let lib = libpcap().map_err(LiveError::FilterNeedsLibpcap)?;
                Some((
                    lib.compile(expr, link, cfg.snaplen)
                        .map_err(LiveError::Filter)?,
                    lib,
                ))
            }
            None => None,
        };

        let proto = (libc::ETH_P_ALL as u16).to_be();
        // Protocol 0: the socket receives nothing until `bind` names the protocol, after the
        // ring exists (as libpcap opens it). Created with ETH_P_ALL it would receive at once,
        // into its ordinary queue, while PACKET_RX_RING zeroes the ring and waits out an RCU
        // grace period: on a busy link that is tens of milliseconds of frames, 256 of them
        // queued where the ring never reads them and the rest counted as dropped.
        // SAFETY: plain socket creation; the descriptor is owned right away.
        let raw = unsafe { libc::socket(libc::AF_PACKET, sock_type | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            let e = io::Error::last_os_error();
            if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
                // The words without the errno number: "socket: Operation not permitted".
                let text = e.to_string();
                let words = text.split(" (os error").next().unwrap_or(&text);
                return Err(LiveError::permission_denied(
                    &cfg.interface,
                    format!("socket: {words}"),
                ));
            }
            return Err(LiveError::Io {
                what: "socket(AF_PACKET)".into(),
                source: e,
            });
        }
        // SAFETY: `raw` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();

        // The kernel filter goes on before the ring exists and before bind, so no unfiltered
        // frame is ever queued. `any` is filtered here instead: its cooked header is not in the
        // socket buffer the kernel filter sees.
        let mut user_filter = None;
        if let Some((p, lib)) = program {
            if cooked {
                user_filter = Some((p, lib));
            } else {
                let prog = libc::sock_fprog {
                    len: p.insns.len() as u16,
                    filter: p.insns.as_ptr() as *mut libc::sock_filter,
                };
                setsockopt(
                    s,
                    libc::SOL_SOCKET,
                    libc::SO_ATTACH_FILTER,
                    &prog,
                    "SO_ATTACH_FILTER",
                )?;
            }
        }

        let version = libc::tpacket_versions::TPACKET_V3 as i32;
        setsockopt(
            s,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &version,
            "PACKET_VERSION (TPACKET_V3)",
        )?;
        let blocks = (cfg.buffer_bytes / BLOCK_SIZE).max(2);
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: FRAME_SIZE,
            tp_frame_nr: (BLOCK_SIZE as u32 / FRAME_SIZE) * blocks as u32,
            tp_retire_blk_tov: RETIRE_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(
            s,
            libc::SOL_PACKET,
            libc::PACKET_RX_RING,
            &req,
            "PACKET_RX_RING",
        )?;
        let map_len = BLOCK_SIZE * blocks;
        // SAFETY: maps the ring the kernel just allocated for this socket.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                s,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(last_os_error("mmap of the packet ring"));
        }
        let ring = Ring {
            fd,
            map: map.cast(),
            map_len,
            blocks,
            current: 0,
            cursor: None,
            waited: true,
            info: SourceInfo {
                interface: cfg.interface.clone(),
                backend: "afpacket",
                link_type: link,
                snaplen: cfg.snaplen,
            },
            cooked,
            loopback_ifindex: None,
            user_filter,
            stats: CaptureStats::default(),
            scratch: Vec::with_capacity(cfg.snaplen.min(1 << 16) as usize + SLL_LEN + 4),
        };

        // SAFETY: sockaddr_ll is plain data; zeroed is a valid starting value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto;
        sll.sll_ifindex = ifindex;
        // SAFETY: binds to a correctly sized sockaddr_ll.
        let rc = unsafe {
            libc::bind(
                s,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENODEV) || e.raw_os_error() == Some(libc::ENXIO) {
                return Err(LiveError::NoSuchInterface {
                    interface: cfg.interface.clone(),
                });
            }
            return Err(LiveError::Io {
                what: format!("bind to {}", cfg.interface),
                source: e,
            });
        }
        if cfg.promisc && !any {
            let mreq = libc::packet_mreq {
                mr_ifindex: ifindex,
                mr_type: libc::PACKET_MR_PROMISC as u16,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            setsockopt(
                s,
                libc::SOL_PACKET,
                libc::PACKET_ADD_MEMBERSHIP,
                &mreq,
                "promiscuous mode",
            )?;
        }
        let mut ring = ring;
        ring.loopback_ifindex = if any {
            // SAFETY: a NUL-terminated literal.
            let lo = unsafe { libc::if_nametoindex(c"lo".as_ptr()) };
            (lo != 0).then_some(lo as i32)
        } else {
            (hw == Some(772)).then_some(ifindex)
        };
        Ok(ring)
    }

    fn block(&self, i: usize) -> *mut libc::tpacket_block_desc {
        // SAFETY: i < blocks, so the block lies inside the mapping.
        unsafe { self.map.add(i * BLOCK_SIZE).cast() }
    }

    fn block_status(&self, i: usize) -> u32 {
        // SAFETY: the descriptor is inside the mapping; the kernel writes the status
        // concurrently, hence the volatile read and the acquire fence after it.
        let s = unsafe { std::ptr::read_volatile(&(*self.block(i)).hdr.bh1.block_status) };
        fence(Ordering::Acquire);
        s
    }

    fn release(&mut self, i: usize) {
        fence(Ordering::Release);
        // SAFETY: hands the block back to the kernel; nothing borrows it any more.
        unsafe {
            std::ptr::write_volatile(
                &mut (*self.block(i)).hdr.bh1.block_status,
                libc::TP_STATUS_KERNEL,
            );
        }
    }

    fn poll(&self, wait: Duration) -> Result<(), LiveError> {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        let ms = wait.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut p, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(LiveError::Io {
                    what: "poll".into(),
                    source: e,
                });
            }
        }
        Ok(())
    }
}

impl LiveSource for Ring {
    fn next_packet(&mut self, wait: Duration) -> Result<Option<Packet<'_>>, LiveError> {
        self.waited = false;
        loop {
            if let Some((left, offset)) = self.cursor {
                if left == 0 {
                    self.cursor = None;
                    self.release(self.current);
                    self.current = (self.current + 1) % self.blocks;
                    continue;
                }
                let base = self.block(self.current) as *const u8;
                // SAFETY: the kernel laid the frame header at `offset` inside this block, which
                // belongs to user space until released.
                let h = unsafe { &*(base.add(offset) as *const libc::tpacket3_hdr) };
                let next = if h.tp_next_offset != 0 {
                    offset + h.tp_next_offset as usize
                } else {
                    offset
                };
                self.cursor = Some((left - 1, next));
                if left > 1 {
                    // The next frame of the block, written by the kernel on another core.
                    crate::capture::prefetch_frame(base.wrapping_add(next));
                }
                // The sockaddr_ll follows the header, 16-byte aligned.
                let sll_off = offset + size_of::<libc::tpacket3_hdr>().next_multiple_of(16);
                // SAFETY: inside the block, written by the kernel for this frame.
                let sll = unsafe { &*(base.add(sll_off) as *const libc::sockaddr_ll) };
                if self.loopback_ifindex == Some(sll.sll_ifindex)
                    && sll.sll_pkttype == PACKET_OUTGOING
                {
                    self.stats.loopback_copies += 1;
                    continue;
                }
                let caplen = h.tp_snaplen as usize;
                // SAFETY: tp_mac is the frame's offset from its header, inside this block.
                let frame_ptr = unsafe { base.add(offset + h.tp_mac as usize) };
                // SAFETY: the kernel wrote tp_snaplen bytes of frame at tp_mac, inside the block,
                // which stays user-owned (and unchanged) until it is released.
                let frame = unsafe { std::slice::from_raw_parts(frame_ptr, caplen) };
                let ts = Timestamp::from_secs_nanos(h.tp_sec as i64, h.tp_nsec as i64);
                let mut orig_len = h.tp_len;
                let (ptr, len) = if self.cooked {
                    // Linux cooked header (SLL v1), as libpcap builds it for `any`.
                    let b = &mut self.scratch;
                    b.clear();
                    b.extend_from_slice(&(sll.sll_pkttype as u16).to_be_bytes());
                    b.extend_from_slice(&sll.sll_hatype.to_be_bytes());
                    b.extend_from_slice(&(sll.sll_halen as u16).to_be_bytes());
                    b.extend_from_slice(&sll.sll_addr);
                    b.extend_from_slice(&sll.sll_protocol.to_ne_bytes());
                    b.extend_from_slice(frame);
                    orig_len += SLL_LEN as u32;
                    (b.as_ptr(), b.len())
                } else if self.info.link_type == LinkType::ETHERNET
                    && h.tp_status & libc::TP_STATUS_VLAN_VALID != 0
                    && caplen >= 12
                {
                    // The NIC stripped the 802.1Q tag: put it back where it was.
                    let tpid = if h.tp_status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                        h.hv1.tp_vlan_tpid
                    } else {
                        0x8100
                    };
                    let b = &mut self.scratch;
                    b.clear();
                    b.extend_from_slice(&frame[..12]);
                    b.extend_from_slice(&tpid.to_be_bytes());
                    b.extend_from_slice(&(h.hv1.tp_vlan_tci as u16).to_be_bytes());
                    b.extend_from_slice(&frame[12..]);
                    orig_len += 4;
                    (b.as_ptr(), b.len())
                } else {
                    (frame_ptr, caplen)
                };
                // SAFETY: the bytes are either in the ring block, user-owned until the next call
                // releases it, or in `scratch`, untouched until the next call; the returned
                // packet borrows `self`, so no next call can happen while it lives.
                let data: &[u8] = unsafe { std::slice::from_raw_parts(ptr, len) };
                if let Some((p, lib)) = &self.user_filter
                    && !p.matches(lib, data, orig_len)
                {
                    self.stats.user_filtered += 1;
                    continue;
                }
                return Ok(Some(Packet {
                    ts,
                    link_type: self.info.link_type,
                    data,
                    orig_len,
                }));
            }
            if self.block_status(self.current) & libc::TP_STATUS_USER != 0 {
                // SAFETY: the block is user-owned now; its descriptor is stable.
                let bh = unsafe { &(*self.block(self.current)).hdr.bh1 };
                self.cursor = Some((bh.num_pkts, bh.offset_to_first_pkt as usize));
                continue;
            }
            if self.waited {
                return Ok(None);
            }
            self.poll(wait)?;
            self.waited = true;
        }
    }

    fn waited(&self) -> bool {
        self.waited
    }

    fn stats(&mut self) -> CaptureStats {
        // SAFETY: tpacket_stats_v3 is plain data filled by getsockopt.
        let mut st: libc::tpacket_stats_v3 = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: a correctly sized buffer; the kernel resets its counters on every read, so
        // they are accumulated here.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut st as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            self.stats.received += st.tp_packets as u64;
            self.stats.dropped += st.tp_drops as u64;
        }
        self.stats
    }

    fn info(&self) -> &SourceInfo {
        &self.info
    }
}

/// Interfaces as the kernel lists them (/sys/class/net), for when libpcap is absent.
pub fn interfaces() -> Result<Vec<Interface>, LiveError> {
    let dir = std::fs::read_dir("/sys/class/net").map_err(|source| LiveError::Io {
        what: "/sys/class/net".into(),
        source,
    })?;
    let mut v: Vec<Interface> = dir
        .filter_map(|e| e.ok())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let flags = std::fs::read_to_string(e.path().join("flags"))
                .ok()
                .and_then(|s| u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
                .unwrap_or(0);
            let mut words = Vec::new();
            if flags & libc::IFF_UP as u32 != 0 {
                words.push("Up");
            }
            if flags & libc::IFF_RUNNING as u32 != 0 {
                words.push("Running");
            }
            if flags & libc::IFF_LOOPBACK as u32 != 0 {
                words.push("Loopback");
            }
            Interface {
                name,
                description: None,
                flags: words,
            }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v.push(Interface {
        name: "any".into(),
        description: Some("Pseudo-device that captures on all interfaces".into()),
        flags: vec!["Up", "Running"],
    });
    Ok(v)
}

//! Live capture through libpcap (loaded at run time): the portable backend, and the one used
//! where AF_PACKET does not exist.

use std::ffi::{CStr, CString, c_char};
use std::time::Duration;

use super::{CaptureStats, LiveConfig, LiveError, LiveSource, SourceInfo};
use crate::capture::libpcap::{
    Libpcap, PCAP_ERROR_NO_SUCH_DEVICE, PCAP_ERROR_PERM_DENIED, PCAP_TSTAMP_PRECISION_NANO, Pcap,
    PktHdr, Stat, libpcap, link_type_of_dlt,
};
use crate::time::Timestamp;
use crate::wire::{LinkType, Packet};

/// Read timeout handed to libpcap: how long a read waits for a buffer to fill, so a quiet link
/// is still seen promptly and a stop request is noticed.
const TIMEOUT_MS: i32 = 50;

/// An activated libpcap handle.
pub struct PcapLive {
    lib: &'static Libpcap,
    p: *mut Pcap,
    info: SourceInfo,
    nanos: bool,
}

// SAFETY: the handle is used only through &mut self, from one thread at a time.
unsafe impl Send for PcapLive {}

impl Drop for PcapLive {
    fn drop(&mut self) {
        // SAFETY: closes the handle opened in `open`, once.
        unsafe { (self.lib.api.close)(self.p) }
    }
}

fn err_text(lib: &Libpcap, p: *mut Pcap) -> String {
    // SAFETY: pcap_geterr returns the handle's NUL-terminated error buffer.
    unsafe { CStr::from_ptr((lib.api.geterr)(p)) }
        .to_string_lossy()
        .into_owned()
}

impl PcapLive {
    /// Opens and activates `cfg.interface` with libpcap.
    pub fn open(cfg: &LiveConfig) -> Result<PcapLive, LiveError> {
        let lib = libpcap().map_err(LiveError::Libpcap)?;
        let name =
            CString::new(cfg.interface.as_str()).map_err(|_| LiveError::NoSuchInterface {
                interface: cfg.interface.clone(),
            })?;
        let mut errbuf = [0 as c_char; 256];
        // SAFETY: libpcap calls with a valid name and error buffer; the handle is owned by the
        // returned value (or closed on every error path through its Drop).
        unsafe {
            let p = (lib.api.create)(name.as_ptr(), errbuf.as_mut_ptr());
            if p.is_null() {
                return Err(LiveError::Open {
                    interface: cfg.interface.clone(),
                    reason: CStr::from_ptr(errbuf.as_ptr())
                        .to_string_lossy()
                        .into_owned(),
                });
            }
            let mut live = PcapLive {
                lib,
                p,
                info: SourceInfo {
                    interface: cfg.interface.clone(),
                    backend: "pcap",
                    // Known once the handle is active.
                    link_type: LinkType::ETHERNET,
                    snaplen: cfg.snaplen,
                },
                nanos: false,
            };
            (lib.api.set_snaplen)(p, cfg.snaplen.min(i32::MAX as u32) as i32);
            (lib.api.set_promisc)(p, cfg.promisc as i32);
            (lib.api.set_timeout)(p, TIMEOUT_MS);
            (lib.api.set_buffer_size)(p, cfg.buffer_bytes.min(i32::MAX as usize) as i32);
            if let Some(f) = lib.api.set_tstamp_precision {
                live.nanos = f(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
            }
            let rc = (lib.api.activate)(p);
            if rc < 0 {
                let detail = err_text(lib, p);
                return Err(match rc {
                    PCAP_ERROR_PERM_DENIED => LiveError::permission_denied(&cfg.interface, detail),
                    PCAP_ERROR_NO_SUCH_DEVICE => LiveError::NoSuchInterface {
                        interface: cfg.interface.clone(),
                    },
                    _ => LiveError::Open {
                        interface: cfg.interface.clone(),
                        reason: detail,
                    },
                });
            }
            live.info.link_type = link_type_of_dlt((lib.api.datalink)(p));
            if let Some(expr) = &cfg.filter {
                let prog = lib
                    .compile(expr, live.info.link_type, cfg.snaplen)
                    .map_err(LiveError::Filter)?;
                lib.set_filter(p, &prog).map_err(LiveError::Filter)?;
            }
            Ok(live)
        }
    }
}

impl LiveSource for PcapLive {
    fn next_packet(&mut self, wait: Duration) -> Result<Option<Packet<'_>>, LiveError> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let mut hdr: *mut PktHdr = std::ptr::null_mut();
            let mut data: *const u8 = std::ptr::null();
            // SAFETY: the header and data stay valid until the next call on this handle, which
            // the returned borrow of self prevents.
            let rc = unsafe { (self.lib.api.next_ex)(self.p, &mut hdr, &mut data) };
            match rc {
                1 => {
                    // SAFETY: rc 1 means both pointers are set.
                    let h = unsafe { &*hdr };
                    let frac = h.ts.tv_usec as i64;
                    let nanos = if self.nanos { frac } else { frac * 1000 };
                    // SAFETY: libpcap's buffer holds `caplen` bytes at `data`, valid until the
                    // next call on this handle, which the returned borrow of self prevents.
                    let bytes = unsafe { std::slice::from_raw_parts(data, h.caplen as usize) };
                    return Ok(Some(Packet {
                        ts: Timestamp::from_secs_nanos(h.ts.tv_sec as i64, nanos),
                        link_type: self.info.link_type,
                        data: bytes,
                        orig_len: h.len,
                    }));
                }
                0 => {
                    if std::time::Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
                _ => {
                    return Err(LiveError::Read {
                        reason: err_text(self.lib, self.p),
                    });
                }
            }
        }
    }

    fn stats(&mut self) -> CaptureStats {
        let mut s = Stat::default();
        // SAFETY: a valid handle and a correctly sized struct.
        if unsafe { (self.lib.api.stats)(self.p, &mut s) } != 0 {
            return CaptureStats::default();
        }
        CaptureStats {
            received: s.ps_recv as u64,
            dropped: s.ps_drop as u64,
            if_dropped: s.ps_ifdrop as u64,
            loopback_copies: 0,
            user_filtered: 0,
        }
    }

    fn info(&self) -> &SourceInfo {
        &self.info
    }
}

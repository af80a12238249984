//! libpcap, loaded at run time: BPF filter compilation for every input, a portable live backend,
//! and the interface list. Building tcpaudit needs no libpcap-dev; only the features that use
//! libpcap fail, with a message naming the package, when no libpcap can be loaded.
//!
//! The ABI of the functions used here has been stable since libpcap 1.0; the timestamp-precision
//! call (1.5) is optional.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::sync::OnceLock;

use libloading::Library;

use super::LinkType;

/// One classic BPF instruction (`struct bpf_insn`, the same layout as Linux's `sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    /// Operation.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Operand.
    pub k: u32,
}

#[repr(C)]
struct RawProgram {
    bf_len: c_uint,
    bf_insns: *mut BpfInsn,
}

#[repr(C)]
pub(crate) struct PktHdr {
    pub ts: libc::timeval,
    pub caplen: u32,
    pub len: u32,
}

#[repr(C)]
#[derive(Default)]
pub(crate) struct Stat {
    pub ps_recv: c_uint,
    pub ps_drop: c_uint,
    pub ps_ifdrop: c_uint,
}

#[repr(C)]
struct PcapIf {
    next: *mut PcapIf,
    name: *mut c_char,
    description: *mut c_char,
    addresses: *mut c_void,
    flags: u32,
}

/// `pcap_t`, opaque.
pub(crate) type Pcap = c_void;

const PCAP_ERRBUF_SIZE: usize = 256;
const PCAP_NETMASK_UNKNOWN: u32 = 0xffff_ffff;
pub(crate) const PCAP_TSTAMP_PRECISION_NANO: c_int = 1;
pub(crate) const PCAP_ERROR_PERM_DENIED: c_int = -8;
pub(crate) const PCAP_ERROR_NO_SUCH_DEVICE: c_int = -5;
const PCAP_IF_LOOPBACK: u32 = 0x1;
const PCAP_IF_UP: u32 = 0x2;
const PCAP_IF_RUNNING: u32 = 0x4;
const PCAP_IF_WIRELESS: u32 = 0x8;
const PCAP_IF_CONNECTION_STATUS: u32 = 0x30;

/// The libpcap functions tcpaudit calls.
#[allow(clippy::type_complexity)]
pub(crate) struct Api {
    lib_version: unsafe extern "C" fn() -> *const c_char,
    open_dead: unsafe extern "C" fn(c_int, c_int) -> *mut Pcap,
    compile: unsafe extern "C" fn(*mut Pcap, *mut RawProgram, *const c_char, c_int, u32) -> c_int,
    freecode: unsafe extern "C" fn(*mut RawProgram),
    offline_filter: unsafe extern "C" fn(*const RawProgram, *const PktHdr, *const u8) -> c_int,
    pub geterr: unsafe extern "C" fn(*mut Pcap) -> *mut c_char,
    pub close: unsafe extern "C" fn(*mut Pcap),
    pub create: unsafe extern "C" fn(*const c_char, *mut c_char) -> *mut Pcap,
    pub set_snaplen: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    pub set_promisc: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    pub set_timeout: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    pub set_buffer_size: unsafe extern "C" fn(*mut Pcap, c_int) -> c_int,
    pub set_tstamp_precision: Option<unsafe extern "C" fn(*mut Pcap, c_int) -> c_int>,
    pub activate: unsafe extern "C" fn(*mut Pcap) -> c_int,
    pub datalink: unsafe extern "C" fn(*mut Pcap) -> c_int,
    pub next_ex: unsafe extern "C" fn(*mut Pcap, *mut *mut PktHdr, *mut *const u8) -> c_int,
    setfilter: unsafe extern "C" fn(*mut Pcap, *mut RawProgram) -> c_int,
    pub stats: unsafe extern "C" fn(*mut Pcap, *mut Stat) -> c_int,
    findalldevs: unsafe extern "C" fn(*mut *mut PcapIf, *mut c_char) -> c_int,
    freealldevs: unsafe extern "C" fn(*mut PcapIf),
}

/// A loaded libpcap.
pub struct Libpcap {
    pub(crate) api: Api,
    version: String,
    // Keeps the code behind `api` mapped; never dropped (held in a static).
    _lib: Option<Library>,
}

/// Library names tried in order: Fedora/Arch/Alpine, Debian/Ubuntu (`libpcap0.8`), a development
/// symlink, macOS.
#[cfg(not(feature = "libpcap-link"))]
const NAMES: &[&str] = &[
    "libpcap.so.1",
    "libpcap.so.0.8",
    "libpcap.so",
    "libpcap.A.dylib",
    "libpcap.dylib",
];

/// What to install when libpcap cannot be loaded.
pub const INSTALL_HINT: &str = "install libpcap (Debian/Ubuntu: apt-get install libpcap0.8; Fedora: dnf install libpcap; Alpine: apk add libpcap; macOS ships it)";

/// Why libpcap could not do what was asked. The texts after the colons are the dynamic loader's
/// or libpcap's own words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LibpcapError {
    /// No libpcap library could be loaded.
    #[error("libpcap could not be loaded ({library}: {reason}); {INSTALL_HINT}")]
    NotFound {
        /// The first library name tried.
        library: &'static str,
        /// Why the dynamic loader refused it.
        reason: String,
    },
    /// A libpcap was loaded but lacks a function tcpaudit calls.
    #[error("libpcap lacks {symbol}: {reason}")]
    MissingSymbol {
        /// The function's name.
        symbol: &'static str,
        /// The dynamic loader's words.
        reason: String,
    },
    /// The filter expression holds a NUL byte, which cannot be passed to libpcap.
    #[error("the filter contains a NUL byte")]
    NulInFilter,
    /// libpcap has no compiler for this link type.
    #[error("libpcap cannot compile for link type {link}")]
    UnsupportedLink {
        /// The link type asked for.
        link: LinkType,
    },
    /// The filter expression does not compile.
    #[error("bad filter '{expr}': {reason}")]
    BadFilter {
        /// The expression.
        expr: String,
        /// libpcap's words.
        reason: String,
    },
    /// A live handle refused the compiled filter (`pcap_setfilter`).
    #[error("{reason}")]
    SetFilter {
        /// libpcap's words.
        reason: String,
    },
    /// The interfaces could not be listed (`pcap_findalldevs`).
    #[error("{reason}")]
    ListInterfaces {
        /// libpcap's words.
        reason: String,
    },
}

// A failed load is kept too, so every later use reports the same reason without retrying.
static LOADED: OnceLock<Result<Libpcap, LibpcapError>> = OnceLock::new();

/// The process-wide libpcap, loaded on first use.
pub fn libpcap() -> Result<&'static Libpcap, LibpcapError> {
    LOADED.get_or_init(load).as_ref().map_err(Clone::clone)
}

#[cfg(not(feature = "libpcap-link"))]
fn load() -> Result<Libpcap, LibpcapError> {
    let mut first_failure = None;
    for name in NAMES {
        // SAFETY: loading libpcap runs its initialisers, which have no preconditions.
        match unsafe { Library::new(*name) } {
            Ok(lib) => return from_library(lib),
            Err(e) => {
                first_failure.get_or_insert(LibpcapError::NotFound {
                    library: name,
                    reason: e.to_string(),
                });
            }
        }
    }
    Err(first_failure.expect("NAMES is not empty"))
}

#[cfg(not(feature = "libpcap-link"))]
fn from_library(lib: Library) -> Result<Libpcap, LibpcapError> {
    // SAFETY: each symbol is looked up by its libpcap name and given libpcap's C signature.
    unsafe {
        macro_rules! sym {
            ($name:literal) => {
                *lib.get(concat!($name, "\0").as_bytes()).map_err(|e| {
                    LibpcapError::MissingSymbol {
                        symbol: $name,
                        reason: e.to_string(),
                    }
                })?
            };
        }
        macro_rules! opt {
            ($name:literal) => {
                lib.get(concat!($name, "\0").as_bytes()).ok().map(|s| *s)
            };
        }
        let api = Api {
            lib_version: sym!("pcap_lib_version"),
            open_dead: sym!("pcap_open_dead"),
            compile: sym!("pcap_compile"),
            freecode: sym!("pcap_freecode"),
            offline_filter: sym!("pcap_offline_filter"),
            geterr: sym!("pcap_geterr"),
            close: sym!("pcap_close"),
            create: sym!("pcap_create"),
            set_snaplen: sym!("pcap_set_snaplen"),
            set_promisc: sym!("pcap_set_promisc"),
            set_timeout: sym!("pcap_set_timeout"),
            set_buffer_size: sym!("pcap_set_buffer_size"),
            set_tstamp_precision: opt!("pcap_set_tstamp_precision"),
            activate: sym!("pcap_activate"),
            datalink: sym!("pcap_datalink"),
            next_ex: sym!("pcap_next_ex"),
            setfilter: sym!("pcap_setfilter"),
            stats: sym!("pcap_stats"),
            findalldevs: sym!("pcap_findalldevs"),
            freealldevs: sym!("pcap_freealldevs"),
        };
        let version = CStr::from_ptr((api.lib_version)())
            .to_string_lossy()
            .into_owned();
        Ok(Libpcap {
            api,
            version,
            _lib: Some(lib),
        })
    }
}

#[cfg(feature = "libpcap-link")]
fn load() -> Result<Libpcap, LibpcapError> {
    Ok(linked::api())
}

/// Link-time binding for packagers and static builds (`--features libpcap-link`).
#[cfg(feature = "libpcap-link")]
mod linked {
    use super::*;

    #[link(name = "pcap")]
    unsafe extern "C" {
        fn pcap_lib_version() -> *const c_char;
        fn pcap_open_dead(l: c_int, s: c_int) -> *mut Pcap;
        fn pcap_compile(
            p: *mut Pcap,
            f: *mut RawProgram,
            e: *const c_char,
            o: c_int,
            m: u32,
        ) -> c_int;
        fn pcap_freecode(f: *mut RawProgram);
        fn pcap_offline_filter(f: *const RawProgram, h: *const PktHdr, d: *const u8) -> c_int;
        fn pcap_geterr(p: *mut Pcap) -> *mut c_char;
        fn pcap_close(p: *mut Pcap);
        fn pcap_create(d: *const c_char, e: *mut c_char) -> *mut Pcap;
        fn pcap_set_snaplen(p: *mut Pcap, v: c_int) -> c_int;
        fn pcap_set_promisc(p: *mut Pcap, v: c_int) -> c_int;
        fn pcap_set_timeout(p: *mut Pcap, v: c_int) -> c_int;
        fn pcap_set_buffer_size(p: *mut Pcap, v: c_int) -> c_int;
        fn pcap_set_tstamp_precision(p: *mut Pcap, v: c_int) -> c_int;
        fn pcap_activate(p: *mut Pcap) -> c_int;
        fn pcap_datalink(p: *mut Pcap) -> c_int;
        fn pcap_next_ex(p: *mut Pcap, h: *mut *mut PktHdr, d: *mut *const u8) -> c_int;
        fn pcap_setfilter(p: *mut Pcap, f: *mut RawProgram) -> c_int;
        fn pcap_stats(p: *mut Pcap, s: *mut Stat) -> c_int;
        fn pcap_findalldevs(d: *mut *mut PcapIf, e: *mut c_char) -> c_int;
        fn pcap_freealldevs(d: *mut PcapIf);
    }

    pub(super) fn api() -> Libpcap {
        let api = Api {
            lib_version: pcap_lib_version,
            open_dead: pcap_open_dead,
            compile: pcap_compile,
            freecode: pcap_freecode,
            offline_filter: pcap_offline_filter,
            geterr: pcap_geterr,
            close: pcap_close,
            create: pcap_create,
            set_snaplen: pcap_set_snaplen,
            set_promisc: pcap_set_promisc,
            set_timeout: pcap_set_timeout,
            set_buffer_size: pcap_set_buffer_size,
            set_tstamp_precision: Some(pcap_set_tstamp_precision),
            activate: pcap_activate,
            datalink: pcap_datalink,
            next_ex: pcap_next_ex,
            setfilter: pcap_setfilter,
            stats: pcap_stats,
            findalldevs: pcap_findalldevs,
            freealldevs: pcap_freealldevs,
        };
        // SAFETY: pcap_lib_version returns a static string.
        let version = unsafe { CStr::from_ptr((api.lib_version)()) }
            .to_string_lossy()
            .into_owned();
        Libpcap {
            api,
            version,
            _lib: None,
        }
    }
}

/// libpcap's DLT value for a pcap/pcapng LINKTYPE (they differ for raw IP).
fn dlt_of(link: LinkType) -> c_int {
    match link.0 {
        101 => 12, // LINKTYPE_RAW is DLT_RAW
        n => n as c_int,
    }
}

/// The pcap/pcapng LINKTYPE of a libpcap DLT value (the inverse of `dlt_of`).
pub(crate) fn link_type_of_dlt(dlt: c_int) -> LinkType {
    LinkType(match dlt {
        12 => 101,
        n => n as u32,
    })
}

impl Libpcap {
    /// `pcap_lib_version()`, e.g. "libpcap version 1.10.3 (with TPACKET_V3)".
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Compiles a tcpdump filter expression for frames of `link` (`pcap_open_dead` +
    /// `pcap_compile`, optimised).
    pub fn compile(
        &self,
        expr: &str,
        link: LinkType,
        snaplen: u32,
    ) -> Result<BpfProgram, LibpcapError> {
        let cexpr = CString::new(expr).map_err(|_| LibpcapError::NulInFilter)?;
        // SAFETY: the dead handle is used for this compilation only and closed before returning;
        // the program libpcap allocates is copied and freed.
        unsafe {
            let p = (self.api.open_dead)(dlt_of(link), snaplen.min(i32::MAX as u32) as c_int);
            if p.is_null() {
                return Err(LibpcapError::UnsupportedLink { link });
            }
            let mut prog = RawProgram {
                bf_len: 0,
                bf_insns: std::ptr::null_mut(),
            };
            let rc = (self.api.compile)(p, &mut prog, cexpr.as_ptr(), 1, PCAP_NETMASK_UNKNOWN);
            if rc != 0 {
                let reason = CStr::from_ptr((self.api.geterr)(p))
                    .to_string_lossy()
                    .into_owned();
                (self.api.close)(p);
                return Err(LibpcapError::BadFilter {
                    expr: expr.to_string(),
                    reason,
                });
            }
            let insns = std::slice::from_raw_parts(prog.bf_insns, prog.bf_len as usize).to_vec();
            (self.api.freecode)(&mut prog);
            (self.api.close)(p);
            Ok(BpfProgram {
                insns,
                link,
                expr: expr.to_string(),
            })
        }
    }

    /// Capturable interfaces as libpcap lists them (`pcap_findalldevs`).
    pub fn interfaces(&self) -> Result<Vec<PcapInterface>, LibpcapError> {
        let mut err = [0 as c_char; PCAP_ERRBUF_SIZE];
        let mut list: *mut PcapIf = std::ptr::null_mut();
        // SAFETY: the list is walked while it is alive and freed once.
        unsafe {
            if (self.api.findalldevs)(&mut list, err.as_mut_ptr()) != 0 {
                return Err(LibpcapError::ListInterfaces {
                    reason: CStr::from_ptr(err.as_ptr()).to_string_lossy().into_owned(),
                });
            }
            let mut out = Vec::new();
            let mut cur = list;
            while !cur.is_null() {
                let i = &*cur;
                let text = |p: *mut c_char| {
                    (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
                };
                out.push(PcapInterface {
                    name: text(i.name).unwrap_or_default(),
                    description: text(i.description),
                    flags: i.flags,
                });
                cur = i.next;
            }
            (self.api.freealldevs)(list);
            Ok(out)
        }
    }

    /// Attaches a compiled program to a live handle (`pcap_setfilter`).
    pub(crate) fn set_filter(&self, p: *mut Pcap, prog: &BpfProgram) -> Result<(), LibpcapError> {
        let mut raw = RawProgram {
            bf_len: prog.insns.len() as c_uint,
            bf_insns: prog.insns.as_ptr() as *mut BpfInsn,
        };
        // SAFETY: libpcap copies the program; `raw` points into `prog`, alive for the call.
        unsafe {
            if (self.api.setfilter)(p, &mut raw) != 0 {
                return Err(LibpcapError::SetFilter {
                    reason: CStr::from_ptr((self.api.geterr)(p))
                        .to_string_lossy()
                        .into_owned(),
                });
            }
        }
        Ok(())
    }
}

/// An interface from `pcap_findalldevs`.
#[derive(Clone, Debug)]
pub struct PcapInterface {
    /// Device name (`eth0`, `any`).
    pub name: String,
    /// Description, where the platform has one.
    pub description: Option<String>,
    flags: u32,
}

impl PcapInterface {
    /// tcpdump -D's bracketed flags: `Up, Running, Loopback, Wireless, Connected`.
    pub fn flag_words(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.flags & PCAP_IF_UP != 0 {
            v.push("Up");
        }
        if self.flags & PCAP_IF_RUNNING != 0 {
            v.push("Running");
        }
        if self.flags & PCAP_IF_WIRELESS != 0 {
            v.push("Wireless");
        }
        if self.flags & PCAP_IF_LOOPBACK != 0 {
            v.push("Loopback");
        }
        match self.flags & PCAP_IF_CONNECTION_STATUS {
            0x10 => v.push("Connected"),
            0x20 => v.push("Disconnected"),
            0x30 => v.push("Not applicable"),
            _ => {}
        }
        v
    }
}

/// A compiled BPF program for one link type.
#[derive(Clone, Debug)]
pub struct BpfProgram {
    /// The instructions (attachable to a socket with `SO_ATTACH_FILTER`).
    pub insns: Vec<BpfInsn>,
    /// The link type it was compiled for.
    pub link: LinkType,
    /// The expression it was compiled from.
    pub expr: String,
}

impl BpfProgram {
    /// Whether a frame passes the filter (`pcap_offline_filter`): `data` holds the captured
    /// bytes, `wire_len` the frame's length on the wire.
    pub fn matches(&self, lib: &Libpcap, data: &[u8], wire_len: u32) -> bool {
        let raw = RawProgram {
            bf_len: self.insns.len() as c_uint,
            bf_insns: self.insns.as_ptr() as *mut BpfInsn,
        };
        let hdr = PktHdr {
            ts: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen: data.len() as u32,
            len: wire_len.max(data.len() as u32),
        };
        // SAFETY: the program, header and data outlive the call; libpcap reads at most
        // `caplen` bytes of `data`.
        unsafe { (lib.api.offline_filter)(&raw, &hdr, data.as_ptr()) != 0 }
    }
}

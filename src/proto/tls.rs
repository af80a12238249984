//! TLS handshakes in the clear, parsed with tls-parser: the ClientHello (server name, offered
//! versions and ALPN), the ServerHello (chosen version and cipher) and the first application
//! data each way, which ends the handshake as the wire shows it. Nothing is decrypted; after
//! the first application data in both directions the connection is no longer looked at.

use tls_parser::{
    TlsExtension, TlsMessage, TlsMessageHandshake, parse_tls_client_hello_extensions,
    parse_tls_plaintext, parse_tls_server_hello_extensions,
};

use super::{At, ConnRef};
use crate::time::{Duration, Timestamp};
use crate::wire::{Endpoint, PerSide, Side};

/// Content type of a handshake record.
pub(super) const HANDSHAKE: u8 = 22;
/// Content type of application data.
const APPLICATION_DATA: u8 = 23;

/// A TLS handshake as far as it was seen.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsRecord {
    /// The ClientHello's time (the first TLS record's, without one).
    pub ts: Timestamp,
    /// Its frame.
    pub frame: u64,
    /// The TCP connection.
    pub conn_id: u64,
    /// The client.
    pub orig: Endpoint,
    /// The server.
    pub resp: Endpoint,
    /// Server Name Indication.
    pub server_name: Option<String>,
    /// Versions the client offered (supported_versions, else the hello's own), GREASE left out.
    pub client_versions: Vec<u16>,
    /// ALPN protocols the client offered.
    pub client_alpn: Vec<String>,
    /// The version the server chose.
    pub version: Option<u16>,
    /// The cipher suite the server chose.
    pub cipher: Option<u16>,
    /// The ALPN protocol the server chose.
    pub alpn: Option<String>,
    /// The server's hello.
    pub server_hello: Option<At>,
    /// Each side's first application-data record.
    pub first_data: PerSide<Option<At>>,
}

impl TlsRecord {
    /// ClientHello to the first application data each way (the handshake's cost as each side
    /// sees it on the wire).
    pub fn handshake_time(&self, side: Side) -> Option<Duration> {
        self.first_data[side].map(|a| a.ts.since(self.ts))
    }

    /// Both sides sent application data: the handshake completed.
    pub fn established(&self) -> bool {
        self.first_data[Side::Orig].is_some() && self.first_data[Side::Resp].is_some()
    }
}

/// A version's name as Zeek's ssl.log writes it.
pub fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0x0300 => "SSLv3",
        0x0301 => "TLSv10",
        0x0302 => "TLSv11",
        0x0303 => "TLSv12",
        0x0304 => "TLSv13",
        0x0002 => "SSLv2",
        _ => return None,
    })
}

/// A cipher suite's IANA name.
pub fn cipher_name(c: u16) -> Option<&'static str> {
    tls_parser::TlsCipherSuite::from_id(c).map(|s| s.name)
}

/// GREASE values (RFC 8701): 0x?A?A with both bytes equal.
fn grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Whether `b` begins a TLS handshake record (a ClientHello from the originator), or an SSL
/// 2.0-format ClientHello offering SSL 3.0 or TLS.
pub(super) fn starts_tls(b: &[u8]) -> bool {
    (b.len() >= 3 && b[0] == HANDSHAKE && b[1] == 3 && b[2] <= 4)
        || (b.len() >= 5 && b[0] & 0x80 != 0 && b[2] == 1 && b[3] == 3 && b[4] <= 4)
}

/// One connection's handshake being watched.
#[derive(Debug)]
pub(super) struct TlsConn {
    pub(super) rec: TlsRecord,
}

impl TlsConn {
    pub(super) fn new(c: ConnRef, at: At) -> Self {
        TlsConn {
            rec: TlsRecord {
                ts: at.ts,
                frame: at.frame,
                conn_id: c.id,
                orig: c.orig,
                resp: c.resp,
                server_name: None,
                client_versions: Vec::new(),
                client_alpn: Vec::new(),
                version: None,
                cipher: None,
                alpn: None,
                server_hello: None,
                first_data: PerSide::default(),
            },
        }
    }

    /// An SSL 2.0-format ClientHello (RFC 6101 appendix E.2), header included: its version is
    /// the one offered; it carries no extensions. False when it is not one.
    pub(super) fn sslv2_hello(&mut self, at: At, record: &[u8]) -> bool {
        let Some(&[kind, major, minor]) = record.get(2..5) else {
            return false;
        };
        if kind != 1 || major != 3 {
            return false;
        }
        self.rec.ts = at.ts;
        self.rec.frame = at.frame;
        self.rec.client_versions = vec![u16::from_be_bytes([major, minor])];
        true
    }

    /// One whole record (header and body) that `side` sent, at `at`.
    pub(super) fn record(&mut self, side: Side, at: At, record: &[u8]) {
        match record[0] {
            APPLICATION_DATA => {
                self.rec.first_data[side].get_or_insert(at);
            }
            HANDSHAKE => {
                let Ok((_, plain)) = parse_tls_plaintext(record) else {
                    return;
                };
                for m in &plain.msg {
                    if let TlsMessage::Handshake(h) = m {
                        self.handshake(h, at);
                    }
                }
            }
            _ => {}
        }
    }

    fn handshake(&mut self, h: &TlsMessageHandshake<'_>, at: At) {
        let r = &mut self.rec;
        match h {
            TlsMessageHandshake::ClientHello(ch) => {
                r.ts = at.ts;
                r.frame = at.frame;
                let exts = ch
                    .ext
                    .and_then(|e| parse_tls_client_hello_extensions(e).ok())
                    .map(|(_, e)| e)
                    .unwrap_or_default();
                for e in &exts {
                    match e {
                        TlsExtension::SNI(names) => {
                            r.server_name = names
                                .first()
                                .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                        }
                        TlsExtension::SupportedVersions(v) => {
                            r.client_versions =
                                v.iter().map(|v| v.0).filter(|v| !grease(*v)).collect();
                        }
                        TlsExtension::ALPN(p) => {
                            r.client_alpn = p
                                .iter()
                                .map(|p| String::from_utf8_lossy(p).into_owned())
                                .collect();
                        }
                        _ => {}
                    }
                }
                if r.client_versions.is_empty() {
                    r.client_versions.push(ch.version.0);
                }
            }
            TlsMessageHandshake::ServerHello(sh) => {
                r.server_hello = Some(at);
                r.version = Some(sh.version.0);
                r.cipher = Some(sh.cipher.0);
                let exts = sh
                    .ext
                    .and_then(|e| parse_tls_server_hello_extensions(e).ok())
                    .map(|(_, e)| e)
                    .unwrap_or_default();
                for e in &exts {
                    match e {
                        // TLS 1.3 names its version here; the hello's own field says 1.2.
                        TlsExtension::SupportedVersions(v) => {
                            if let Some(v) = v.first() {
                                r.version = Some(v.0);
                            }
                        }
                        TlsExtension::ALPN(p) => {
                            r.alpn = p.first().map(|p| String::from_utf8_lossy(p).into_owned());
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

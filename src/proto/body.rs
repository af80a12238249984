//! HTTP/1 message bodies, skipped without being kept: by Content-Length, chunk by chunk
//! (sizes, data, trailers), or until the connection closes.

use super::http::{Dir, give_up};
use super::{AppConfig, AppStats};

/// How a message's body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Body {
    /// So many bytes left.
    Length(u64),
    /// Chunked: reading a size line.
    ChunkSize,
    /// Chunked: so many data bytes left, then CRLF.
    ChunkData(u64),
    /// Chunked: the trailer section, up to an empty line.
    Trailers,
    /// Until the connection closes.
    UntilClose,
}

/// Skips body bytes of `b`; returns how many it used, how many of those were the body's own
/// (not chunk framing), and whether the body ended.
pub(super) fn skip_body(
    d: &mut Dir,
    b: &[u8],
    cfg: &AppConfig,
    stats: &mut AppStats,
) -> (usize, u64, bool) {
    let mut data = 0;
    let (used, ended) = skip_framed(d, b, cfg, stats, &mut data);
    (used, data, ended)
}

/// [`skip_body`]'s loop; the body's own bytes are added to `data`.
fn skip_framed(
    d: &mut Dir,
    b: &[u8],
    cfg: &AppConfig,
    stats: &mut AppStats,
    data: &mut u64,
) -> (usize, bool) {
    let mut used = 0;
    loop {
        let rest = &b[used..];
        match d.body {
            Some(Body::Length(n)) => {
                let take = (n.min(rest.len() as u64)) as usize;
                used += take;
                *data += take as u64;
                let left = n - take as u64;
                if left == 0 {
                    return (used, true);
                }
                d.body = Some(Body::Length(left));
                return (used, false);
            }
            Some(Body::UntilClose) => {
                *data += rest.len() as u64;
                return (b.len(), false);
            }
            Some(Body::ChunkData(n)) => {
                // The chunk's bytes (its CRLF is read as an empty line after).
                let take = (n.min(rest.len() as u64)) as usize;
                used += take;
                *data += take as u64;
                let left = n - take as u64;
                if left > 0 {
                    d.body = Some(Body::ChunkData(left));
                    return (used, false);
                }
                d.body = Some(Body::ChunkSize);
            }
            Some(Body::ChunkSize) | Some(Body::Trailers) => {
                let Some(nl) = rest.iter().position(|c| *c == b'\n') else {
                    d.buf.extend_from_slice(rest);
                    if d.buf.len() > 4096.min(cfg.max_message) {
                        give_up(d, stats, true);
                    }
                    return (b.len(), false);
                };
                d.buf.extend_from_slice(&rest[..nl]);
                used += nl + 1;
                let line = std::mem::take(&mut d.buf);
                let line = String::from_utf8_lossy(&line);
                let line = line.trim();
                if d.body == Some(Body::Trailers) {
                    if line.is_empty() {
                        return (used, true);
                    }
                    continue;
                }
                if line.is_empty() {
                    // The CRLF after a chunk's data.
                    continue;
                }
                let hex = line.split(';').next().unwrap_or("").trim();
                match u64::from_str_radix(hex, 16) {
                    Ok(0) => d.body = Some(Body::Trailers),
                    Ok(n) => d.body = Some(Body::ChunkData(n)),
                    Err(_) => {
                        give_up(d, stats, false);
                        return (b.len(), true);
                    }
                }
            }
            None => return (used, true),
        }
    }
}

/// What the headers say about the body.
#[derive(Default)]
pub(super) struct Framing {
    length: Option<u64>,
    chunked: bool,
}

impl Framing {
    pub(super) fn header(&mut self, name: &str, v: &str) {
        match name {
            "content-length" => self.length = v.trim().parse().ok(),
            "transfer-encoding" => {
                self.chunked = v
                    .rsplit(',')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"))
            }
            _ => {}
        }
    }

    /// The body that follows, if any (a response without length runs until the close).
    pub(super) fn body(&self, response: bool) -> Option<Body> {
        if self.chunked {
            return Some(Body::ChunkSize);
        }
        match self.length {
            Some(0) => None,
            Some(n) => Some(Body::Length(n)),
            None if response => Some(Body::UntilClose),
            None => None,
        }
    }
}

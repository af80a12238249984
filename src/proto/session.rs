//! Sessions: the requests that carry the same session cookie value. HTTP is stateless; a server
//! that must remember a client (a login, a cart) gives it a cookie and keys its state on the
//! value, so whoever presents the value is the session.

use std::net::IpAddr;

use super::At;

/// One session, as far as the capture shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The cookie's name.
    pub cookie: String,
    /// The keyed hash of its value (the value is never kept).
    pub value_hash: u64,
    /// Why the cookie counts as a session id: `name` (a well-known session cookie name) or
    /// `set_and_echoed` (the server set it and the client sent it back).
    pub basis: &'static str,
    /// The first request that carried it (or the response that set it).
    pub first: At,
    /// The last request that carried it.
    pub last: At,
    /// Requests that carried it.
    pub requests: u64,
    /// Client addresses that presented it (at most [`MAX_CLIENTS`]).
    pub clients: Vec<IpAddr>,
    /// Hosts it was sent to (at most [`MAX_HOSTS`]).
    pub hosts: Vec<String>,
    /// Connections that carried it (the first [`MAX_CONNS`]).
    pub conns: Vec<u64>,
}

/// Client addresses kept per session.
pub const MAX_CLIENTS: usize = 8;
/// Hosts kept per session.
pub const MAX_HOSTS: usize = 8;
/// Connections kept per session.
pub const MAX_CONNS: usize = 16;

/// Cookie names that are session ids by convention (Java, PHP, ASP.NET, Express, generic).
pub fn session_name(name: &str) -> bool {
    const NAMES: [&str; 8] = [
        "jsessionid",
        "phpsessid",
        "asp.net_sessionid",
        "aspsessionid",
        "connect.sid",
        "session",
        "sessionid",
        "sid",
    ];
    let n = name.to_ascii_lowercase();
    NAMES.contains(&n.as_str()) || (n.starts_with("aspsessionid") && n.len() > 12)
}

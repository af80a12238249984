//! Cookie and session rules over HTTP transactions: a session cookie in cleartext, a session
//! cookie set without Secure or HttpOnly, a cookie over the 4,096 bytes browsers keep, and one
//! session value presented from two client addresses (a stolen session cookie replayed).
//!
//! A cookie is a session id when its name says so (JSESSIONID, PHPSESSID, ASP.NET_SessionId,
//! connect.sid, session, sid) or when the server set it and the client sent the same value
//! back. Values are compared by their keyed hash only.

use std::collections::{HashMap, HashSet};

use super::{Anomaly, AnomalyKind};
use crate::proto::{
    AppRecord, At, Cookie, HttpRecord, MAX_CLIENTS, MAX_CONNS, MAX_HOSTS, SessionRecord,
    session_name,
};

/// Largest cookie (name, value and attributes) browsers must keep (RFC 6265 §6.1).
pub const MAX_COOKIE: usize = 4096;
/// Sessions, and cookies set by servers, remembered at most (beyond: counted, not tracked).
pub const MAX_TRACKED: usize = 65_536;

/// A session and what was already reported about it.
#[derive(Debug)]
struct Tracked {
    rec: SessionRecord,
    hijack_reported: bool,
    /// Sessions seen before it: the order of first use among sessions first used by one
    /// frame (value hashes are keyed per run and cannot order them reproducibly).
    seq: usize,
}

/// The sessions of a run.
#[derive(Debug, Default)]
pub struct Sessions {
    by_value: HashMap<(String, u64), Tracked>,
    /// (name, value hash) of cookies servers set.
    set: HashSet<(String, u64)>,
    /// (host, name) whose Set-Cookie was reported insecure.
    insecure: HashSet<(Option<String>, String)>,
    /// (name, value hash) of session cookies reported in cleartext.
    cleartext: HashSet<(String, u64)>,
    /// Sessions not tracked because of [`MAX_TRACKED`].
    pub left_out: u64,
}

impl Sessions {
    /// Reads one transaction's cookies; anomalies go to `out`.
    pub fn on_http(&mut self, h: &HttpRecord, out: &mut Vec<Anomaly>) {
        let raise = |kind: AnomalyKind, c: &Cookie, at: At| {
            let mut a = Anomaly::new(kind, at.frame, at.ts).with("cookie", c.name.clone());
            a.conn_id = Some(h.conn_id);
            a.listener = Some(h.resp);
            if let Some(host) = &h.host {
                a = a.with("host", host.clone());
            }
            a
        };
        let request = At {
            ts: h.ts,
            frame: h.frame,
        };
        let response = h.response_start.unwrap_or(request);
        for c in &h.set_cookies {
            if c.size > MAX_COOKIE {
                out.push(
                    raise(AnomalyKind::CookieTooLarge, c, response)
                        .with("size", c.size as u64)
                        .with("header", "set-cookie"),
                );
            }
            if self.set.len() < MAX_TRACKED {
                self.set.insert((c.name.clone(), c.value_hash));
            }
            if !session_name(&c.name) {
                continue;
            }
            if self.first_in_cleartext(c) {
                out.push(
                    raise(AnomalyKind::SessionCookieCleartext, c, response)
                        .with("header", "set-cookie"),
                );
            }
            let key = (h.host.clone(), c.name.clone());
            if (!c.attrs.secure || !c.attrs.http_only)
                && self.insecure.len() < MAX_TRACKED
                && self.insecure.insert(key)
            {
                out.push(
                    raise(AnomalyKind::SessionCookieInsecure, c, response)
                        .with("secure", c.attrs.secure)
                        .with("http_only", c.attrs.http_only)
                        .with(
                            "same_site",
                            c.attrs.same_site.clone().unwrap_or_else(|| "-".into()),
                        ),
                );
            }
        }
        for c in &h.cookies {
            if c.size > MAX_COOKIE {
                out.push(
                    raise(AnomalyKind::CookieTooLarge, c, request)
                        .with("size", c.size as u64)
                        .with("header", "cookie"),
                );
            }
            let basis = if session_name(&c.name) {
                "name"
            } else if self.set.contains(&(c.name.clone(), c.value_hash)) {
                "set_and_echoed"
            } else {
                continue;
            };
            self.request(h, c, basis, request, out, &raise);
        }
    }

    fn request(
        &mut self,
        h: &HttpRecord,
        c: &Cookie,
        basis: &'static str,
        at: At,
        out: &mut Vec<Anomaly>,
        raise: &impl Fn(AnomalyKind, &Cookie, At) -> Anomaly,
    ) {
        let key = (c.name.clone(), c.value_hash);
        let client = h.orig.addr;
        if !self.by_value.contains_key(&key) {
            if self.by_value.len() >= MAX_TRACKED {
                self.left_out += 1;
                return;
            }
            // Reported once per session value: it crossed the network readable by anyone on
            // the path.
            if self.first_in_cleartext(c) {
                out.push(
                    raise(AnomalyKind::SessionCookieCleartext, c, at).with("header", "cookie"),
                );
            }
            let seq = self.by_value.len();
            self.by_value.insert(
                key.clone(),
                Tracked {
                    seq,
                    rec: SessionRecord {
                        cookie: c.name.clone(),
                        value_hash: c.value_hash,
                        basis,
                        first: at,
                        last: at,
                        requests: 0,
                        clients: vec![client],
                        hosts: Vec::new(),
                        conns: Vec::new(),
                    },
                    hijack_reported: false,
                },
            );
        }
        let Some(t) = self.by_value.get_mut(&key) else {
            return;
        };
        let s = &mut t.rec;
        s.requests += 1;
        s.last = at;
        if let Some(host) = &h.host
            && s.hosts.len() < MAX_HOSTS
            && !s.hosts.contains(host)
        {
            s.hosts.push(host.clone());
        }
        if s.conns.len() < MAX_CONNS && !s.conns.contains(&h.conn_id) {
            s.conns.push(h.conn_id);
        }
        if !s.clients.contains(&client) {
            if !t.hijack_reported {
                t.hijack_reported = true;
                out.push(
                    raise(AnomalyKind::SessionHijackSuspected, c, at)
                        .with("first_client", s.clients[0].to_string())
                        .with("new_client", client.to_string())
                        .with("first_frame", s.first.frame),
                );
            }
            if s.clients.len() < MAX_CLIENTS {
                s.clients.push(client);
            }
        }
    }

    /// Whether session cookie `c`'s value is seen in cleartext for the first time.
    fn first_in_cleartext(&mut self, c: &Cookie) -> bool {
        self.cleartext.len() < MAX_TRACKED && self.cleartext.insert((c.name.clone(), c.value_hash))
    }

    /// The sessions seen, as records, in order of first use.
    pub fn finish(&mut self, out: &mut Vec<AppRecord>) {
        let mut all: Vec<Tracked> = self.by_value.drain().map(|(_, t)| t).collect();
        all.sort_by_key(|t| (t.rec.first.frame, t.seq));
        out.extend(all.into_iter().map(|t| AppRecord::Session(t.rec)));
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::proto::CookieAttrs;
    use crate::time::Timestamp;
    use crate::wire::Endpoint;

    fn cookie(name: &str, size: usize, hash: u64, attrs: CookieAttrs) -> Cookie {
        Cookie {
            name: name.into(),
            size,
            value_hash: hash,
            attrs,
        }
    }

    fn txn(client: u8, frame: u64, cookies: Vec<Cookie>, set: Vec<Cookie>) -> HttpRecord {
        let ep = |a: u8, port| Endpoint::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, a)), port);
        HttpRecord {
            ts: Timestamp::from_millis(frame as i64),
            frame,
            conn_id: frame,
            orig: ep(client, 40000),
            resp: ep(80, 80),
            trans_depth: 1,
            method: Some("GET".into()),
            host: Some("shop.example".into()),
            uri: Some("/".into()),
            version: Some("1.1".into()),
            user_agent: None,
            referrer: None,
            request_body_len: 0,
            response_body_len: 0,
            status_code: Some(200),
            status_msg: None,
            request_end: None,
            response_start: None,
            response_end: None,
            rtt: None,
            cookies,
            set_cookies: set,
        }
    }

    fn kinds(a: &[Anomaly]) -> Vec<&'static str> {
        a.iter().map(|a| a.kind.id()).collect()
    }

    #[test]
    fn a_cookie_set_and_echoed_is_a_session_and_its_theft_is_reported_once() {
        let mut s = Sessions::default();
        let mut out = Vec::new();
        let tight = CookieAttrs {
            secure: true,
            http_only: true,
            ..CookieAttrs::default()
        };
        // The server sets an unconventionally named cookie: not yet a session.
        s.on_http(
            &txn(1, 1, vec![], vec![cookie("cart", 10, 7, tight.clone())]),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        // Echoed back: a session, sent in the clear.
        s.on_http(
            &txn(
                1,
                2,
                vec![cookie("cart", 10, 7, CookieAttrs::default())],
                vec![],
            ),
            &mut out,
        );
        assert_eq!(kinds(&out), ["session_cookie_cleartext"]);
        out.clear();
        s.on_http(
            &txn(
                1,
                3,
                vec![cookie("cart", 10, 7, CookieAttrs::default())],
                vec![],
            ),
            &mut out,
        );
        assert!(out.is_empty());
        // The same value from another client, twice: reported once.
        for f in [4, 5] {
            s.on_http(
                &txn(
                    2,
                    f,
                    vec![cookie("cart", 10, 7, CookieAttrs::default())],
                    vec![],
                ),
                &mut out,
            );
        }
        assert_eq!(kinds(&out), ["session_hijack_suspected"]);
        assert_eq!(
            out[0].detail.get("first_frame"),
            Some(&crate::detect::Value::U64(2))
        );
        let mut recs = Vec::new();
        s.finish(&mut recs);
        let AppRecord::Session(r) = &recs[0] else {
            panic!()
        };
        assert_eq!(
            (r.requests, r.clients.len(), r.basis),
            (4, 2, "set_and_echoed")
        );
        // Another value of an unknown cookie is not a session.
        out.clear();
        s.on_http(
            &txn(
                3,
                6,
                vec![cookie("cart", 10, 8, CookieAttrs::default())],
                vec![],
            ),
            &mut out,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn loose_session_cookies_and_huge_cookies_are_reported() {
        let mut s = Sessions::default();
        let mut out = Vec::new();
        let loose = CookieAttrs {
            secure: true,
            ..CookieAttrs::default()
        };
        let set = vec![
            cookie("JSESSIONID", 40, 1, loose.clone()),
            cookie("big", 5000, 2, loose),
        ];
        s.on_http(&txn(1, 1, vec![], set.clone()), &mut out);
        assert_eq!(
            kinds(&out),
            [
                "session_cookie_cleartext",
                "session_cookie_insecure",
                "cookie_too_large"
            ]
        );
        out.clear();
        // The same Set-Cookie again: the insecure one is reported once per host and name.
        s.on_http(&txn(1, 2, vec![], set), &mut out);
        assert_eq!(kinds(&out), ["cookie_too_large"]);
    }
}

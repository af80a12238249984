//! Cookies as HTTP carries them: the Cookie header's `name=value` pairs and Set-Cookie's cookie
//! with its attributes. Values are secrets: only a keyed hash of each is kept, so equal values
//! can be matched within a run and never read back.

/// A cookie the client sent (Cookie header) or the server set (Set-Cookie).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    /// Its name.
    pub name: String,
    /// `name=value` in bytes.
    pub size: usize,
    /// A keyed hash of the value (equal values, equal hashes, within one run).
    pub value_hash: u64,
    /// Set-Cookie attributes (empty for a Cookie header's).
    pub attrs: CookieAttrs,
}

/// The attributes of a Set-Cookie.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CookieAttrs {
    /// Domain.
    pub domain: Option<String>,
    /// Path.
    pub path: Option<String>,
    /// Expires (as written).
    pub expires: Option<String>,
    /// Max-Age (as written).
    pub max_age: Option<String>,
    /// Secure.
    pub secure: bool,
    /// HttpOnly.
    pub http_only: bool,
    /// SameSite (as written).
    pub same_site: Option<String>,
}

/// A keyed hash of a cookie value (foldhash with the run's key): equal values match within a
/// run, and the value cannot be read back.
fn value_hash(v: &str, key: u64) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::quality::FixedState::with_seed(key).build_hasher();
    h.write(v.as_bytes());
    h.finish()
}

/// The cookies of a Cookie header: `a=1; b=2`.
pub(super) fn cookie_header(v: &str, key: u64) -> Vec<Cookie> {
    v.split(';')
        .filter_map(|p| {
            let p = p.trim();
            let (name, value) = p.split_once('=')?;
            Some(Cookie {
                name: name.trim().to_string(),
                size: p.len(),
                value_hash: value_hash(value.trim(), key),
                attrs: CookieAttrs::default(),
            })
        })
        .collect()
}

/// A Set-Cookie header: `name=value; Path=/; Secure; HttpOnly; SameSite=Lax`.
pub(super) fn set_cookie(v: &str, key: u64) -> Option<Cookie> {
    let mut parts = v.split(';');
    let first = parts.next()?.trim();
    let (name, value) = first.split_once('=')?;
    let mut attrs = CookieAttrs::default();
    for a in parts {
        let a = a.trim();
        let (k, val) = match a.split_once('=') {
            Some((k, val)) => (k.trim(), Some(val.trim().to_string())),
            None => (a, None),
        };
        match k.to_ascii_lowercase().as_str() {
            "domain" => attrs.domain = val,
            "path" => attrs.path = val,
            "expires" => attrs.expires = val,
            "max-age" => attrs.max_age = val,
            "secure" => attrs.secure = true,
            "httponly" => attrs.http_only = true,
            "samesite" => attrs.same_site = val,
            _ => {}
        }
    }
    Some(Cookie {
        name: name.trim().to_string(),
        size: first.len(),
        value_hash: value_hash(value.trim(), key),
        attrs,
    })
}

//! Giving up root once the capture is open (as tcpdump -Z does): the packet socket stays usable,
//! everything the analysis does afterwards runs as an ordinary user.

use std::ffi::{CStr, CString};
use std::io;

/// Why root privileges could not be given up. The capture must not go on as root, so each of
/// these ends the run.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// The user name holds a NUL byte.
    #[error("bad user name '{user}'")]
    BadUserName {
        /// The name given.
        user: String,
    },
    /// No such user in the password database.
    #[error("cannot drop root privileges: no user named '{user}' (choose one with --user)")]
    NoSuchUser {
        /// The name given.
        user: String,
    },
    /// The supplementary groups could not be cleared.
    #[error("setgroups: {source}")]
    SetGroups {
        /// The operating system's error.
        source: io::Error,
    },
    /// The group id could not be changed.
    #[error("setgid({gid}): {source}")]
    SetGid {
        /// The user's primary group id.
        gid: u32,
        /// The operating system's error.
        source: io::Error,
    },
    /// The user id could not be changed.
    #[error("setuid({uid}): {source}")]
    SetUid {
        /// The user's id.
        uid: u32,
        /// The operating system's error.
        source: io::Error,
    },
    /// Root could be taken back after the switch, so it was not given up for good.
    #[error("root privileges could not be dropped")]
    RootRegained,
}

/// Whether the process runs as root (effective user id 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Switches to `user` (its uid, primary gid, no supplementary groups); returns the uid and gid.
pub fn drop_privileges(user: &str) -> Result<(u32, u32), PrivilegeError> {
    let name = CString::new(user).map_err(|_| PrivilegeError::BadUserName {
        user: user.to_string(),
    })?;
    // SAFETY: getpwnam_r fills `pw` with pointers into `buf`, both live while used here.
    let (uid, gid) = unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            name.as_ptr(),
            &mut pw,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return Err(PrivilegeError::NoSuchUser {
                user: user.to_string(),
            });
        }
        let _ = CStr::from_ptr(pw.pw_name);
        (pw.pw_uid, pw.pw_gid)
    };
    // SAFETY: plain credential changes; order matters (groups and gid while still root).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(PrivilegeError::SetGroups {
                source: io::Error::last_os_error(),
            });
        }
        if libc::setgid(gid) != 0 {
            return Err(PrivilegeError::SetGid {
                gid,
                source: io::Error::last_os_error(),
            });
        }
        if libc::setuid(uid) != 0 {
            return Err(PrivilegeError::SetUid {
                uid,
                source: io::Error::last_os_error(),
            });
        }
        // Root must be gone for good.
        if uid != 0 && libc::setuid(0) == 0 {
            return Err(PrivilegeError::RootRegained);
        }
    }
    Ok((uid, gid))
}

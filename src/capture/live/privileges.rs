//! Giving up root once the capture is open (as tcpdump -Z does): the packet socket stays usable,
//! everything the analysis does afterwards runs as an ordinary user.

use std::ffi::{CStr, CString};

/// Whether the process runs as root (effective user id 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Switches to `user` (its uid, primary gid, no supplementary groups); returns the uid and gid.
pub fn drop_privileges(user: &str) -> Result<(u32, u32), String> {
    let name = CString::new(user).map_err(|_| format!("bad user name '{user}'"))?;
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
            return Err(format!(
                "cannot drop root privileges: no user named '{user}' (choose one with --user)"
            ));
        }
        let _ = CStr::from_ptr(pw.pw_name);
        (pw.pw_uid, pw.pw_gid)
    };
    // SAFETY: plain credential changes; order matters (groups and gid while still root).
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(format!("setgroups: {}", std::io::Error::last_os_error()));
        }
        if libc::setgid(gid) != 0 {
            return Err(format!(
                "setgid({gid}): {}",
                std::io::Error::last_os_error()
            ));
        }
        if libc::setuid(uid) != 0 {
            return Err(format!(
                "setuid({uid}): {}",
                std::io::Error::last_os_error()
            ));
        }
        // Root must be gone for good.
        if uid != 0 && libc::setuid(0) == 0 {
            return Err("root privileges could not be dropped".into());
        }
    }
    Ok((uid, gid))
}

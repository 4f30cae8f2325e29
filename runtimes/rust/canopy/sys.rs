//! The few POSIX calls std does not offer: signals and reaping, as PID 1 of the container.
#![allow(unsafe_code)]

use std::os::raw::c_int;

extern "C" {
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn _exit(status: c_int) -> !;
}

const SIGINT: c_int = 2;
const SIGKILL: c_int = 9;
const SIGTERM: c_int = 15;
const WNOHANG: c_int = 1;

extern "C" fn exit_now(_: c_int) {
    // Only async-signal-safe calls here.
    unsafe { _exit(0) }
}

/// As PID 1 the default SIGTERM action is ignored; `docker stop` should not wait for SIGKILL.
pub fn exit_on_sigterm() {
    unsafe {
        signal(SIGTERM, exit_now);
        signal(SIGINT, exit_now);
    }
}

/// Kills every other process in the container (what a function spawned and left running) and
/// collects the exits, as PID 1 must.
pub fn reap_strays() {
    let me = std::process::id() as c_int;
    let parent = std::os::unix::process::parent_id() as c_int;
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    let mut killed = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<c_int>().ok()) else { continue };
        if pid != me && pid != parent && pid != 1 && unsafe { kill(pid, SIGKILL) } == 0 {
            killed.push(pid);
        }
    }
    let mut status = 0;
    for pid in killed {
        // SIGKILL cannot be ignored: this returns at once (-1 when another process is its parent).
        unsafe { waitpid(pid, &mut status, 0) };
    }
    while unsafe { waitpid(-1, &mut status, WNOHANG) } > 0 {}
}

//! berth's init (`docker run --init`): PID 1 of a container, it starts the command, forwards
//! the signals it gets to it, reaps every orphan the container's processes leave, and exits
//! as the command exits (128 + the signal when a signal ended it).
//!
//! Built by the runtime crate's build script with `rustc` alone, statically linked, so that
//! it runs in any image; that is why it declares the few C functions it needs itself rather
//! than depending on the `libc` crate.

use std::os::raw::c_int;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// glibc's `sigset_t` (1024 bits) and `siginfo_t` (128 bytes) on Linux.
#[repr(C)]
struct SigSet([u64; 16]);
#[repr(C)]
struct SigInfo {
    signo: c_int,
    _rest: [c_int; 31],
}
#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    fn sigfillset(set: *mut SigSet) -> c_int;
    fn sigdelset(set: *mut SigSet, signo: c_int) -> c_int;
    fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    fn sigtimedwait(set: *const SigSet, info: *mut SigInfo, timeout: *const Timespec) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn kill(pid: c_int, signo: c_int) -> c_int;
}

const SIG_SETMASK: c_int = 2;
const WNOHANG: c_int = 1;
const SIGCHLD: c_int = 17;
/// Signals about the init itself, never forwarded (as tini leaves them).
const OWN: [c_int; 9] = [4, 5, 6, 7, 8, 11, 21, 22, 31];

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    if args.is_empty() {
        eprintln!("berth-init: no command given");
        std::process::exit(1);
    }
    let mut set = SigSet([0; 16]);
    // SAFETY: `set` is a valid sigset_t; the calls only write it and the process mask.
    unsafe {
        sigfillset(&mut set);
        for s in OWN {
            sigdelset(&mut set, s);
        }
        sigprocmask(SIG_SETMASK, &set, std::ptr::null_mut());
    }
    let mut command = Command::new(&args[0]);
    command.args(&args[1..]);
    // The command starts with no signal blocked (the standard library would pass on ours).
    // SAFETY: sigprocmask is async-signal-safe, as code between fork and exec must be.
    unsafe {
        command.pre_exec(|| {
            let none = SigSet([0; 16]);
            sigprocmask(SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
    let child = match command.spawn() {
        Ok(c) => c.id() as c_int,
        Err(e) => {
            eprintln!("berth-init: exec {} failed: {e}", args[0]);
            std::process::exit(if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 });
        }
    };
    loop {
        let mut info = SigInfo { signo: 0, _rest: [0; 31] };
        let timeout = Timespec { sec: 1, nsec: 0 };
        // SAFETY: valid pointers to a sigset, a siginfo and a timespec.
        let signo = unsafe { sigtimedwait(&set, &mut info, &timeout) };
        if signo > 0 && signo != SIGCHLD {
            // SAFETY: plain kill(2) of our child.
            unsafe { kill(child, signo) };
        }
        // Reap everything that ended: orphans as well as the child.
        loop {
            let mut status: c_int = 0;
            // SAFETY: waitpid(2) with a valid status pointer.
            let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == child {
                let code = if status & 0x7f == 0 {
                    (status >> 8) & 0xff
                } else {
                    128 + (status & 0x7f)
                };
                std::process::exit(code);
            }
        }
    }
}

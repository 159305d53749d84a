//! Finding and running the program: Docker's lookup on the process's PATH and its errors.

use std::ffi::CString;

use super::*;

/// `execvp`'s search with the process's own `PATH`, as runc does it, then the exec.
#[allow(unsafe_code)]
pub(super) fn exec_program(launch: &Launch<'_>) -> Result<std::convert::Infallible, String> {
    let path = find_program(&launch.req.args[0], &launch.candidates)?;
    // SAFETY: the path and both arrays are NUL-terminated C strings and NULL-terminated
    // arrays of them, owned by `launch` (see `Launch::new`).
    unsafe { libc::execve(path.as_ptr(), launch.argv.as_ptr(), launch.envp.as_ptr()) };
    let e = rustix::io::Errno::from_raw_os_error(
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
    );
    Err(format!("exec {}: {}", path.to_string_lossy(), describe(e)))
}

/// An error as runc words it: `no such file or directory`.
pub(super) fn describe(e: rustix::io::Errno) -> String {
    nix::errno::Errno::from_raw(e.raw_os_error())
        .desc()
        .to_lowercase()
}

/// A regular file this process may execute.
pub(super) fn is_executable(path: &std::ffi::CStr) -> bool {
    let Ok(st) = rustix::fs::stat(path) else {
        return false;
    };
    rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
        && rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok()
}

/// Where `execvp` would look for `program`: the name itself when it has a `/`, else its
/// entry in each directory of the process's own `PATH`, in order.
pub(super) fn program_candidates(program: &str, env: &[String]) -> Vec<String> {
    if program.contains('/') {
        return vec![program.to_string()];
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("");
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| format!("{}/{program}", d.trim_end_matches('/')))
        .collect()
}

/// The search itself, as runc does it: a path is taken as it is, a name is the first
/// candidate that is an executable regular file.
pub(super) fn find_program<'c>(
    program: &str,
    candidates: &'c [CString],
) -> Result<&'c std::ffi::CStr, String> {
    let found = if program.contains('/') {
        candidates.first()
    } else {
        candidates.iter().find(|c| is_executable(c))
    };
    found
        .map(CString::as_c_str)
        .ok_or_else(|| format!("exec: \"{program}\": executable file not found in $PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_the_process_path() {
        let find = |program: &str, env: &[String]| {
            let candidates: Vec<CString> = program_candidates(program, env)
                .into_iter()
                .map(|c| CString::new(c).unwrap())
                .collect();
            find_program(program, &candidates).map(|c| c.to_str().unwrap().to_string())
        };
        let env = vec!["PATH=/nonexistent:/bin/:/usr/bin".to_string()];
        assert_eq!(
            program_candidates("sh", &env),
            ["/nonexistent/sh", "/bin/sh", "/usr/bin/sh"]
        );
        assert_eq!(find("sh", &env).unwrap(), "/bin/sh");
        assert_eq!(find("./x", &env).unwrap(), "./x");
        assert_eq!(
            find("no-such-program", &env).unwrap_err(),
            "exec: \"no-such-program\": executable file not found in $PATH"
        );
        // Directories and non-executables are skipped.
        let env = vec!["PATH=/etc:/".to_string()];
        assert!(find("passwd", &env).is_err());
        assert!(find("sh", &[]).is_err());
    }
}

//! A container's users and groups, read from its own /etc/passwd and /etc/group as it sees them.

use crate::error::EngineError;

/// A small file of the container's (`etc/passwd`), resolved as the container sees it: its
/// symlinks stay inside its root, as Docker resolves them in scope. Empty when it is missing
/// or not a regular file: it is looked at (`O_PATH`) before it is opened, so a device node
/// or FIFO planted there is never opened by the daemon.
fn read_in_root(rootfs: &std::path::Path, path: &str) -> String {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    use std::io::Read;
    const LIMIT: u64 = 16 << 20;
    let Ok(root) = rustix::fs::open(
        rootfs,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return String::new();
    };
    let located = (0..3)
        .map(|_| {
            rustix::fs::openat2(
                &root,
                path,
                OFlags::PATH | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            )
        })
        // EAGAIN: a rename somewhere in the container raced the lookup.
        .find(|r| !matches!(r, Err(rustix::io::Errno::AGAIN)));
    let Some(Ok(located)) = located else {
        return String::new();
    };
    let regular = rustix::fs::fstat(&located).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
    });
    if !regular {
        return String::new();
    }
    let reopened = format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&located)
    );
    let Ok(file) = std::fs::File::open(reopened) else {
        return String::new();
    };
    let mut text = String::new();
    let _ = file.take(LIMIT).read_to_string(&mut text);
    text
}

/// A container's `/etc/passwd` and `/etc/group`, each read at most once, when first needed.
pub(crate) struct UserFiles<'a> {
    rootfs: &'a std::path::Path,
    passwd: std::cell::OnceCell<String>,
    group: std::cell::OnceCell<String>,
}

impl<'a> UserFiles<'a> {
    pub(crate) fn new(rootfs: &'a std::path::Path) -> UserFiles<'a> {
        UserFiles {
            rootfs,
            passwd: Default::default(),
            group: Default::default(),
        }
    }

    pub(super) fn passwd(&self) -> &str {
        self.passwd
            .get_or_init(|| read_in_root(self.rootfs, "etc/passwd"))
    }

    pub(super) fn group(&self) -> &str {
        self.group
            .get_or_init(|| read_in_root(self.rootfs, "etc/group"))
    }

    /// The home directory of `uid`, `/` when it has none: the `HOME` a process gets when its
    /// environment does not set one, as runc gives it.
    pub(crate) fn home_dir(&self, uid: u32) -> String {
        self.passwd()
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
            .map(|f| f[5].to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "/".to_string())
    }

    /// Resolves `user` (`name`, `uid`, `uid:gid`, `name:group`): uid, gid and supplementary
    /// groups.
    pub(crate) fn resolve(&self, user: &str) -> Result<(u32, u32, Vec<u32>), EngineError> {
        if user.is_empty() {
            return Ok((0, 0, Vec::new()));
        }
        let (u, g) = user
            .split_once(':')
            .map_or((user, None), |(u, g)| (u, Some(g)));
        let entry = self
            .passwd()
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 4 && (f[0] == u || f[2] == u));
        let (uid, mut gid) = match (u.parse::<u32>(), &entry) {
            (_, Some(f)) => (f[2].parse().unwrap_or(0), f[3].parse().unwrap_or(0)),
            (Ok(n), None) => (n, 0),
            (Err(_), None) => {
                return Err(EngineError::InvalidParameter(format!(
                    "unable to find user {u}: no matching entries in passwd file"
                )))
            }
        };
        if let Some(g) = g {
            gid = self.gid_of(g)?;
        }
        let name = entry.as_ref().map(|f| f[0]).unwrap_or("");
        let extra: Vec<u32> = self
            .group()
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .filter(|f| f.len() >= 4 && !name.is_empty() && f[3].split(',').any(|m| m == name))
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != gid)
            .collect();
        Ok((uid, gid, extra))
    }

    /// A group by number or by its name in the container's `/etc/group`.
    fn gid_of(&self, g: &str) -> Result<u32, EngineError> {
        if let Ok(n) = g.parse::<u32>() {
            return Ok(n);
        }
        self.group()
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 3 && f[0] == g)
            .and_then(|f| f[2].parse().ok())
            .ok_or_else(|| {
                EngineError::InvalidParameter(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })
    }

    /// `GroupAdd`: each group's ID.
    pub(crate) fn group_ids(&self, groups: &[String]) -> Result<Vec<u32>, EngineError> {
        groups.iter().map(|g| self.gid_of(g)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_resolve_in_the_container_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\napp:x:1000:1000::/:/bin/sh\n").unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nstaff:x:50:app\napp:x:1000:\n",
        )
        .unwrap();
        assert_eq!(UserFiles::new(dir.path()).home_dir(0), "/root");
        assert_eq!(
            UserFiles::new(dir.path())
                .group_ids(&["staff".into(), "4242".into()])
                .unwrap(),
            [50, 4242]
        );
        assert!(UserFiles::new(dir.path())
            .group_ids(&["wheel".into()])
            .unwrap_err()
            .to_string()
            .contains("unable to find group wheel"));
        assert_eq!(UserFiles::new(dir.path()).home_dir(1000), "/");
        assert_eq!(UserFiles::new(dir.path()).home_dir(4242), "/");
        assert_eq!(
            UserFiles::new(dir.path()).resolve("").unwrap(),
            (0, 0, vec![])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("nobody").unwrap(),
            (65534, 65534, vec![])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("app").unwrap(),
            (1000, 1000, vec![50])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("1234").unwrap(),
            (1234, 0, vec![])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("1234:7").unwrap(),
            (1234, 7, vec![])
        );
        assert_eq!(
            UserFiles::new(dir.path()).resolve("app:staff").unwrap().1,
            50
        );
        assert!(UserFiles::new(dir.path()).resolve("ghost").is_err());
        // One exec's user and HOME come from a single read of each file.
        let users = UserFiles::new(dir.path());
        assert_eq!(users.resolve("app").unwrap(), (1000, 1000, vec![50]));
        std::fs::remove_file(dir.path().join("etc/passwd")).unwrap();
        std::fs::remove_file(dir.path().join("etc/group")).unwrap();
        assert_eq!(users.home_dir(0), "/root");
        assert_eq!(users.resolve("app:staff").unwrap().1, 50);
    }

    #[test]
    fn user_files_are_read_as_the_container_sees_them() {
        let outside = tempfile::tempdir().unwrap();
        let host_passwd = outside.path().join("passwd");
        std::fs::write(&host_passwd, "evil:x:0:0::/evil:/bin/sh\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        // An absolute link, and a relative one climbing out: both stay in the root.
        std::os::unix::fs::symlink(&host_passwd, root.path().join("etc/passwd")).unwrap();
        let climb = format!("../../../../../../..{}", host_passwd.display());
        std::os::unix::fs::symlink(climb, root.path().join("etc/group")).unwrap();
        assert!(UserFiles::new(root.path()).resolve("evil").is_err());
        assert_eq!(UserFiles::new(root.path()).home_dir(0), "/");
        assert!(UserFiles::new(root.path()).resolve("0:evil").is_err());
        // A link that stays inside is followed.
        std::fs::write(
            root.path().join("etc/real"),
            "app:x:7:8::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("/etc/real", root.path().join("etc/passwd")).unwrap();
        assert_eq!(
            UserFiles::new(root.path()).resolve("app").unwrap(),
            (7, 8, vec![])
        );
        assert_eq!(UserFiles::new(root.path()).home_dir(7), "/home/app");
        // A FIFO there does not hang, nor is a device opened.
        std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.path().join("etc/passwd"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        assert_eq!(UserFiles::new(root.path()).home_dir(0), "/");
    }
}

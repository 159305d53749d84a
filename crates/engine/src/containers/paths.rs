//! Where a container's files live.

use std::path::PathBuf;

/// How much of a container's ID names its sockets.
const SOCKET_ID_LEN: usize = 32;

/// The longest exec root (in bytes) whose sockets fit in a Unix socket address (107 bytes
/// and a NUL): `<exec-root>/sock/<32 hex>.exec`.
pub const MAX_EXEC_ROOT_LEN: usize = 107 - "/sock/".len() - SOCKET_ID_LEN - ".exec".len();

#[derive(Debug, Clone)]
pub struct ContainerPaths {
    /// `<data-root>`: records, logs, host files, overlays.
    pub data_root: PathBuf,
    /// `<exec-root>`: OCI bundles and the runtime's state.
    pub exec_root: PathBuf,
}

impl ContainerPaths {
    /// Creates the directories and writes out the container init, named by its build, unless
    /// it is there already: containers running an older one keep theirs (bind-mounted), and
    /// the daemon's start reads nothing to know.
    pub fn create(&self) -> std::io::Result<()> {
        for d in [
            self.data_root.join("init"),
            self.data_root.join("containers"),
            self.data_root.join("overlay"),
            self.exec_root.join("containers"),
            self.exec_root.join("sock"),
            self.runtime_root(),
        ] {
            std::fs::create_dir_all(d)?;
        }
        // The monitors' sockets: an exec socket runs commands as root in a container.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            self.exec_root.join("sock"),
            std::fs::Permissions::from_mode(0o700),
        )?;
        let init = self.init_binary();
        if !init.exists() {
            let staged = init.with_extension("new");
            std::fs::write(&staged, berth_runtime::init::BINARY)?;
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))?;
            std::fs::rename(&staged, &init)?;
            // Earlier builds' copies: a running container holds its own through its mount.
            for old in std::fs::read_dir(self.data_root.join("init"))?.flatten() {
                if old.path() != init {
                    let _ = std::fs::remove_file(old.path());
                }
            }
        }
        Ok(())
    }

    /// The init `--init` containers run as PID 1.
    pub fn init_binary(&self) -> PathBuf {
        self.data_root
            .join("init")
            .join(format!("berth-init-{}", berth_runtime::init::ID))
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.data_root.join("containers").join(id)
    }

    pub fn record(&self, id: &str) -> PathBuf {
        self.dir(id).join("record.json")
    }

    /// Where records of schema 1 were kept (read once, then replaced by [`Self::record`]).
    pub fn record_v1(&self, id: &str) -> PathBuf {
        self.dir(id).join("config.v1.json")
    }

    pub fn log(&self, id: &str) -> PathBuf {
        self.dir(id).join(format!("{id}-json.log"))
    }

    pub fn hostname(&self, id: &str) -> PathBuf {
        self.dir(id).join("hostname")
    }

    pub fn hosts(&self, id: &str) -> PathBuf {
        self.dir(id).join("hosts")
    }

    pub fn resolv_conf(&self, id: &str) -> PathBuf {
        self.dir(id).join("resolv.conf")
    }

    pub fn exit_file(&self, id: &str) -> PathBuf {
        self.dir(id).join("exit.json")
    }

    /// The monitor's own account of itself (`berth_runtime::monitor::MonitorState`).
    pub fn monitor_state(&self, id: &str) -> PathBuf {
        self.dir(id).join("monitor.json")
    }

    pub fn monitor_log(&self, id: &str) -> PathBuf {
        self.dir(id).join("monitor.log")
    }

    pub fn overlay(&self, id: &str) -> PathBuf {
        self.data_root.join("overlay").join(id)
    }

    /// A shareable container's `/dev/shm`, a tmpfs others bind (`IpcMode: shareable`).
    pub fn shm(&self, id: &str) -> PathBuf {
        self.exec_root.join("shm").join(id)
    }

    pub fn bundle(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }

    /// A socket of the container's monitor. Unix socket paths are limited to 108 bytes, so
    /// the name takes the first half of the ID (128 random bits, unique in practice).
    /// A monitor started by an earlier berthd (still running across the upgrade) listens on
    /// the whole ID's name, `legacy`, which is used while it exists.
    fn socket(&self, id: &str, suffix: &str, legacy: &str) -> PathBuf {
        let dir = self.exec_root.join("sock");
        if id.len() > SOCKET_ID_LEN {
            let old = dir.join(format!("{id}{legacy}"));
            if old.exists() {
                return old;
            }
        }
        let short = &id[..id.len().min(SOCKET_ID_LEN)];
        dir.join(format!("{short}{suffix}"))
    }

    /// The socket the monitor feeds the container's stdin from.
    pub fn stdin_socket(&self, id: &str) -> PathBuf {
        self.socket(id, ".in", "")
    }

    /// Where the container's monitor takes exec requests.
    pub fn exec_helper_socket(&self, id: &str) -> PathBuf {
        self.socket(id, ".exec", ".exec")
    }

    /// The PID of the container's exec helper while one runs (the monitor writes it): a
    /// process in the container's cgroups that is not one of its processes.
    pub fn exec_helper_pid(&self, id: &str) -> PathBuf {
        self.exec_helper_socket(id).with_extension("pid")
    }

    pub fn resize_socket(&self, id: &str) -> PathBuf {
        self.socket(id, ".tty", ".tty")
    }

    /// The pinned loopback-only network namespace of a `none` container.
    pub fn netns(&self, id: &str) -> PathBuf {
        self.exec_root.join("netns-none").join(id)
    }

    /// Where read-only views of containers' root filesystems are mounted while a `diff` or
    /// an `export` reads them.
    pub fn views(&self) -> PathBuf {
        self.exec_root.join("views")
    }

    /// Where the bridge pins its containers' network namespaces.
    pub fn bridge_netns_dir(&self) -> PathBuf {
        self.exec_root.join("netns")
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.exec_root.join("runtime")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_use_half_the_id_unless_an_older_monitor_listens_on_the_whole_one() {
        let dir = tempfile::tempdir().unwrap();
        let paths = ContainerPaths {
            data_root: dir.path().join("data"),
            exec_root: dir.path().join("exec"),
        };
        paths.create().unwrap();
        let id = "ab".repeat(32);
        let sock = dir.path().join("exec/sock");
        assert_eq!(
            paths.exec_helper_socket(&id),
            sock.join(format!("{}.exec", &id[..32]))
        );
        assert_eq!(
            paths.stdin_socket(&id),
            sock.join(format!("{}.in", &id[..32]))
        );
        assert_eq!(
            paths.resize_socket(&id),
            sock.join(format!("{}.tty", &id[..32]))
        );
        assert_eq!(
            paths.exec_helper_pid(&id),
            sock.join(format!("{}.pid", &id[..32]))
        );
        for legacy in [id.clone(), format!("{id}.exec"), format!("{id}.tty")] {
            std::fs::write(sock.join(legacy), b"").unwrap();
        }
        assert_eq!(paths.stdin_socket(&id), sock.join(&id));
        assert_eq!(
            paths.exec_helper_socket(&id),
            sock.join(format!("{id}.exec"))
        );
        assert_eq!(paths.exec_helper_pid(&id), sock.join(format!("{id}.pid")));
        assert_eq!(paths.resize_socket(&id), sock.join(format!("{id}.tty")));
        // Every name fits a socket address at the longest exec root allowed.
        let longest = "/".to_string() + &"r".repeat(MAX_EXEC_ROOT_LEN - 1);
        let at_limit = ContainerPaths {
            data_root: dir.path().into(),
            exec_root: longest.into(),
        };
        for p in [
            at_limit.exec_helper_socket(&id),
            at_limit.stdin_socket(&id),
            at_limit.resize_socket(&id),
        ] {
            assert!(p.as_os_str().len() <= 107, "{}", p.display());
        }
    }
}

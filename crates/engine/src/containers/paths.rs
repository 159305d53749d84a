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
    pub fn create(&self) -> std::io::Result<()> {
        for d in [
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
        Ok(())
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.data_root.join("containers").join(id)
    }

    pub fn record(&self, id: &str) -> PathBuf {
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

    pub fn monitor_log(&self, id: &str) -> PathBuf {
        self.dir(id).join("monitor.log")
    }

    pub fn overlay(&self, id: &str) -> PathBuf {
        self.data_root.join("overlay").join(id)
    }

    pub fn bundle(&self, id: &str) -> PathBuf {
        self.exec_root.join("containers").join(id)
    }

    /// A socket of the container's monitor. Unix socket paths are limited to 108 bytes, so
    /// the name takes the first half of the ID (128 random bits, unique in practice).
    fn socket(&self, id: &str, suffix: &str) -> PathBuf {
        let short = &id[..id.len().min(SOCKET_ID_LEN)];
        self.exec_root.join("sock").join(format!("{short}{suffix}"))
    }

    /// The socket the monitor feeds the container's stdin from.
    pub fn stdin_socket(&self, id: &str) -> PathBuf {
        self.socket(id, ".in")
    }

    /// Where the container's monitor takes exec requests.
    pub fn exec_helper_socket(&self, id: &str) -> PathBuf {
        self.socket(id, ".exec")
    }

    /// The PID of the container's exec helper while one runs (the monitor writes it): a
    /// process in the container's cgroups that is not one of its processes.
    pub fn exec_helper_pid(&self, id: &str) -> PathBuf {
        self.exec_helper_socket(id).with_extension("pid")
    }

    pub fn resize_socket(&self, id: &str) -> PathBuf {
        self.socket(id, ".tty")
    }

    /// The pinned loopback-only network namespace of a `none` container.
    pub fn netns(&self, id: &str) -> PathBuf {
        self.exec_root.join("netns-none").join(id)
    }

    /// Where the bridge pins its containers' network namespaces.
    pub fn bridge_netns_dir(&self) -> PathBuf {
        self.exec_root.join("netns")
    }

    pub fn runtime_root(&self) -> PathBuf {
        self.exec_root.join("runtime")
    }
}

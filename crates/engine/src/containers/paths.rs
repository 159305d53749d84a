//! Where a container's files live.

use std::path::PathBuf;

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

    /// The socket the monitor feeds the container's stdin from (short: Unix socket paths are
    /// limited to 108 bytes).
    pub fn stdin_socket(&self, id: &str) -> PathBuf {
        self.exec_root.join("sock").join(id)
    }

    /// Where the container's monitor takes exec requests.
    pub fn exec_helper_socket(&self, id: &str) -> PathBuf {
        self.exec_root.join("sock").join(format!("{id}.exec"))
    }

    /// The PID of the container's exec helper while one runs (the monitor writes it): a
    /// process in the container's cgroups that is not one of its processes.
    pub fn exec_helper_pid(&self, id: &str) -> PathBuf {
        self.exec_helper_socket(id).with_extension("pid")
    }

    pub fn resize_socket(&self, id: &str) -> PathBuf {
        self.exec_root.join("sock").join(format!("{id}.tty"))
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

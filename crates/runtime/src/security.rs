//! Capabilities as Docker computes them from `CapAdd`, `CapDrop` and `Privileged`, limited
//! to what the host's bounding set holds (a capability the daemon lacks cannot be granted;
//! asking for one silently would make the runtime fail).

use crate::spec::DEFAULT_CAPABILITIES;

/// Every capability, by number.
pub const ALL_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn normalize(name: &str) -> Result<String, String> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if ALL_CAPABILITIES.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(format!("unknown capability: \"{name}\""))
    }
}

/// The host's bounding set, as a bit mask (`CapBnd` of this process).
pub fn host_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("CapBnd:")
                    .map(|v| u64::from_str_radix(v.trim(), 16).unwrap_or(u64::MAX))
            })
        })
        .unwrap_or(u64::MAX)
}

/// Docker's capability computation, then the host's limit.
pub fn capabilities(
    add: &[String],
    drop: &[String],
    privileged: bool,
    host: u64,
) -> Result<Vec<String>, String> {
    let add: Vec<String> = add.iter().map(|c| normalize(c)).collect::<Result<_, _>>()?;
    let drop: Vec<String> = drop
        .iter()
        .map(|c| normalize(c))
        .collect::<Result<_, _>>()?;
    let mut caps: Vec<String> = if privileged || add.iter().any(|c| c == "ALL") {
        ALL_CAPABILITIES.iter().map(|s| s.to_string()).collect()
    } else if drop.iter().any(|c| c == "ALL") {
        add.clone()
    } else {
        let mut c: Vec<String> = DEFAULT_CAPABILITIES
            .iter()
            .map(|s| s.to_string())
            .filter(|c| !drop.contains(c))
            .collect();
        for a in &add {
            if !c.contains(a) {
                c.push(a.clone());
            }
        }
        c
    };
    if !privileged && !add.iter().any(|c| c == "ALL") && !drop.iter().any(|c| c == "ALL") {
        caps.retain(|c| !drop.contains(c));
    }
    caps.retain(|c| {
        ALL_CAPABILITIES
            .iter()
            .position(|x| x == c)
            .is_some_and(|bit| bit < 64 && host & (1u64 << bit) != 0)
    });
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_drop_like_docker() {
        let c = capabilities(
            &["net_admin".into()],
            &["MKNOD".into(), "CAP_CHOWN".into()],
            false,
            u64::MAX,
        )
        .unwrap();
        assert!(c.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!c.contains(&"CAP_MKNOD".to_string()) && !c.contains(&"CAP_CHOWN".to_string()));
        assert_eq!(c.len(), DEFAULT_CAPABILITIES.len() - 1);
        let only = capabilities(&["NET_RAW".into()], &["ALL".into()], false, u64::MAX).unwrap();
        assert_eq!(only, ["CAP_NET_RAW"]);
        let all = capabilities(&["ALL".into()], &[], false, u64::MAX).unwrap();
        assert_eq!(all.len(), ALL_CAPABILITIES.len());
        assert!(capabilities(&["BOGUS".into()], &[], false, u64::MAX)
            .unwrap_err()
            .contains("unknown capability"));
    }

    #[test]
    fn limited_to_the_host() {
        let without_sys_resource = !(1 << 24);
        let c = capabilities(&[], &[], true, without_sys_resource).unwrap();
        assert!(!c.contains(&"CAP_SYS_RESOURCE".to_string()));
        assert!(c.contains(&"CAP_SYS_ADMIN".to_string()));
        assert_eq!(ALL_CAPABILITIES[24], "CAP_SYS_RESOURCE");
        assert_eq!(ALL_CAPABILITIES[21], "CAP_SYS_ADMIN");
    }
}

//! Running containers, without HTTP: the OCI runtime spec a container runs with
//! ([`spec`]), its overlay root filesystem ([`rootfs`]), the json-file log format shared by the
//! monitor that writes it and the daemon that reads it ([`logfile`]), and the interface of the
//! per-container monitor process ([`monitor`]).

pub mod cgroups;
pub mod fdpass;
pub mod init;
pub mod logfile;
pub mod monitor;
pub mod rootfs;
pub mod seccomp;
pub mod security;
pub mod spec;
pub mod stats;

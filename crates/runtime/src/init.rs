//! berth's init for `docker run --init` (the program is `init/main.rs`, built static by the
//! build script): the daemon writes it out once and bind-mounts it into containers.

pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/berth-init"));

/// Names this build of the init (a hash of [`BINARY`], made by the build script).
pub const ID: &str = env!("BERTH_INIT_ID");

/// Where Docker puts its init, so that tools looking for it find it.
pub const PATH_IN_CONTAINER: &str = "/sbin/docker-init";

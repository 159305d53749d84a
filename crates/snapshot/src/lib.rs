//! A container's root filesystem as snapshots, in the manner of containerd's snapshotters: what
//! to mount is described first ([`Mount`]) and made after, so that a start, a `diff` and an
//! `export` agree on the layers they see.
//!
//! A container's root is, bottom to top: the image's layers, an init layer holding the files
//! every container gets (Docker's `-init` layer: mount points and `/.dockerenv`), and the
//! container's own upper directory, which therefore holds exactly what the container changed.
//! [`OverlayDirs::active`] is that stack, writable; [`OverlayDirs::view`] is the container's
//! files, read-only, for `export`; [`OverlayDirs::changes`] compares
//! the upper directory with what lies below it. [`run_in`] runs code where the container's
//! files, with its binds, are `/`: what `docker cp` reads and writes.

mod changes;
mod container_fs;
mod init_layer;
mod mounts;
mod overlay;

pub use changes::{Change, ChangeKind};
pub use container_fs::{run_in, Bind, Root};
pub use mounts::{Mount, View};
pub use overlay::{read_only, OverlayDirs};

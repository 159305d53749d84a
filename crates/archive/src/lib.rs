//! Tar archives for images and containers.
//!
//! [`unpack`] writes an archive under a directory and nowhere else: every path is resolved by
//! the kernel with `openat2(RESOLVE_IN_ROOT)`, so `../` components, absolute paths, symlinks
//! and hardlinks pointing out, and symlinked parent directories all stay inside the target.
//! Layer whiteouts (`.wh.NAME`, `.wh..wh..opq`) become overlayfs whiteouts (a 0:0 character
//! device, the `trusted.overlay.opaque` xattr), as Docker's overlay2 driver stores them.
//! [`pack`] writes a tree as a tar stream without following any link out of it.
//! [`decompress`] sniffs gzip, bzip2, xz and zstd streams.

mod compression;
mod error;
mod pack;
mod unpack;

pub use compression::{decompress, decompress_buffered, is_tar_file, Compression};
pub use error::ArchiveError;
pub use pack::{pack, pack_entry, pack_layer};
pub use unpack::{unpack, UnpackOptions, UnpackStats};

use std::io::Cursor;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::*;

/// Builds a tar whose names and link targets are written raw, so hostile archives can be made
/// (the tar crate's own builder refuses `..`).
struct RawTar(Vec<u8>);

impl RawTar {
    fn new() -> Self {
        RawTar(Vec::new())
    }

    fn entry(mut self, name: &str, kind: tar::EntryType, link: &str, data: &[u8]) -> Self {
        let mut h = tar::Header::new_gnu();
        {
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name, tar::EntryType::Regular, "", data)
    }

    fn dir(self, name: &str) -> Self {
        self.entry(name, tar::EntryType::Directory, "", b"")
    }

    fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Symlink, target, b"")
    }

    fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Link, target, b"")
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend(std::iter::repeat_n(0u8, 1024));
        self.0
    }
}

/// A sandbox: `root` is the unpack target, `outside` a sibling that must stay empty.
struct Sandbox {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    outside: std::path::PathBuf,
}

fn sandbox() -> Sandbox {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&outside).unwrap();
    Sandbox {
        _dir: dir,
        root,
        outside,
    }
}

fn run(sb: &Sandbox, tar: Vec<u8>) -> Result<UnpackStats, ArchiveError> {
    unpack(Cursor::new(tar), &sb.root, &UnpackOptions::default())
}

fn assert_outside_untouched(sb: &Sandbox) {
    let left: Vec<_> = std::fs::read_dir(&sb.outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.iter().all(|n| n == "victim"),
        "something was written outside the root: {left:?}"
    );
}

#[test]
fn unpacks_files_dirs_links_and_metadata() {
    let sb = sandbox();
    let tar = RawTar::new()
        .dir("etc/")
        .file("etc/hostname", b"box\n")
        .symlink("bin/sh", "/bin/busybox")
        .file("bin/busybox", b"ELF")
        .hardlink("bin/bb2", "bin/busybox")
        .finish();
    let stats = run(&sb, tar).unwrap();
    assert_eq!(
        std::fs::read(sb.root.join("etc/hostname")).unwrap(),
        b"box\n"
    );
    assert_eq!(
        std::fs::read_link(sb.root.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    let a = std::fs::metadata(sb.root.join("bin/busybox")).unwrap();
    let b = std::fs::metadata(sb.root.join("bin/bb2")).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert_eq!(a.mode() & 0o777, 0o644);
    assert_eq!(a.mtime(), 1_700_000_000);
    assert_eq!(
        std::fs::metadata(sb.root.join("etc")).unwrap().mtime(),
        1_700_000_000
    );
    assert_eq!(stats.bytes, 7);
    assert_eq!(stats.entries, 5);
}

#[test]
fn dotdot_escape_is_refused() {
    let sb = sandbox();
    let err = run(&sb, RawTar::new().file("../outside/evil", b"x").finish()).unwrap_err();
    assert!(matches!(err, ArchiveError::Invalid(_)), "{err}");
    assert!(run(
        &sb,
        RawTar::new().file("a/../../outside/evil", b"x").finish()
    )
    .is_err());
    assert_outside_untouched(&sb);
}

#[test]
fn absolute_paths_land_inside_the_root() {
    let sb = sandbox();
    let outside = sb.outside.to_str().unwrap().to_string();
    run(
        &sb,
        RawTar::new()
            .file(&format!("{outside}/evil"), b"x")
            .finish(),
    )
    .unwrap();
    assert_outside_untouched(&sb);
    assert!(sb
        .root
        .join(outside.trim_start_matches('/'))
        .join("evil")
        .exists());
}

#[test]
fn symlinked_parent_pointing_out_stays_inside() {
    let sb = sandbox();
    let outside = sb.outside.to_str().unwrap().to_string();
    let tar = RawTar::new()
        .symlink("link", &outside)
        .file("link/evil", b"x")
        .symlink("rel", "../../../../../../../..")
        .file(&format!("rel{outside}/evil2"), b"y")
        .finish();
    run(&sb, tar).unwrap();
    assert_outside_untouched(&sb);
    // Resolved as the container would see it: inside the root.
    assert!(sb
        .root
        .join(outside.trim_start_matches('/'))
        .join("evil")
        .exists());
    assert!(sb
        .root
        .join(outside.trim_start_matches('/'))
        .join("evil2")
        .exists());
}

#[test]
fn file_over_symlink_replaces_the_link_not_its_target() {
    let sb = sandbox();
    let victim = sb.outside.join("victim");
    std::fs::write(&victim, b"original").unwrap();
    let tar = RawTar::new()
        .symlink("f", victim.to_str().unwrap())
        .file("f", b"overwritten")
        .finish();
    run(&sb, tar).unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"original");
    assert_eq!(std::fs::read(sb.root.join("f")).unwrap(), b"overwritten");
}

#[test]
fn hardlink_pointing_out_is_refused_or_contained() {
    let sb = sandbox();
    let victim = sb.outside.join("victim");
    std::fs::write(&victim, b"secret").unwrap();
    let victim_ino = std::fs::metadata(&victim).unwrap().ino();
    assert!(run(
        &sb,
        RawTar::new().hardlink("h", "../outside/victim").finish()
    )
    .is_err());
    assert!(run(
        &sb,
        RawTar::new()
            .hardlink("h", victim.to_str().unwrap())
            .finish()
    )
    .is_err());
    // A symlink planted to lead a hardlink outside: the link is to the symlink itself.
    let tar = RawTar::new()
        .symlink("s", victim.to_str().unwrap())
        .hardlink("h2", "s")
        .finish();
    let _ = run(&sb, tar);
    for name in ["h", "h2"] {
        if let Ok(m) = std::fs::symlink_metadata(sb.root.join(name)) {
            assert_ne!(m.ino(), victim_ino, "{name} reached outside");
        }
    }
    assert_eq!(std::fs::metadata(&victim).unwrap().nlink(), 1);
}

#[test]
fn device_nodes_are_skipped() {
    let sb = sandbox();
    let tar = RawTar::new()
        .entry("dev/sda", tar::EntryType::Block, "", b"")
        .entry("dev/mem", tar::EntryType::Char, "", b"")
        .finish();
    let stats = run(&sb, tar).unwrap();
    assert_eq!(stats.skipped_devices, 2);
    assert!(!sb.root.join("dev/sda").exists());
    assert!(!sb.root.join("dev/mem").exists());
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let sb = sandbox();
    let tar = RawTar::new()
        .dir("a/")
        .file("a/.wh.gone", b"")
        .file("b/.wh..wh..opq", b"")
        .file("b/kept", b"k")
        .finish();
    run(&sb, tar).unwrap();
    let wh = std::fs::symlink_metadata(sb.root.join("a/gone")).unwrap();
    assert!(wh.file_type().is_char_device());
    assert_eq!(wh.rdev(), 0);
    let mut value = [0u8; 4];
    let n = rfs::getxattr(sb.root.join("b"), OVERLAY_OPAQUE_XATTR, &mut value).unwrap();
    assert_eq!(&value[..n], b"y");
    assert!(sb.root.join("b/kept").exists());
}

#[test]
fn whiteouts_are_refused_outside_layers() {
    let sb = sandbox();
    let opts = UnpackOptions {
        overlay_whiteouts: false,
        ..Default::default()
    };
    let tar = RawTar::new().file("a/.wh.gone", b"").finish();
    assert!(unpack(Cursor::new(tar), &sb.root, &opts).is_err());
}

#[test]
fn truncated_archive_is_invalid() {
    let sb = sandbox();
    let mut tar = RawTar::new().file("big", &vec![7u8; 4096]).finish();
    tar.truncate(1024);
    let err = run(&sb, tar).unwrap_err();
    assert!(matches!(err, ArchiveError::Invalid(_)), "{err}");
}

#[test]
fn absurd_size_is_refused_before_writing() {
    let sb = sandbox();
    let mut h = tar::Header::new_gnu();
    h.set_path("huge").unwrap();
    h.set_size(1 << 60);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut tar = h.as_bytes().to_vec();
    tar.extend(vec![0u8; 4096]);
    let err = run(&sb, tar).unwrap_err();
    assert!(matches!(err, ArchiveError::TooLarge { .. }), "{err}");
    assert!(!sb.root.join("huge").exists());
}

/// An archive that stops right after its last file's content (no padding, no end blocks) is
/// whole when asked to be lenient, as Go's reader takes it; a file cut short never is.
#[test]
fn a_missing_end_is_taken_only_when_lenient() {
    let sb = sandbox();
    let full = RawTar::new().file("a", b"one").file("b", b"two").finish();
    // Up to the end of "b"'s content: two headers, "a"'s padded block, three bytes.
    let cut = &full[..512 * 3 + 3];
    assert!(unpack(
        Cursor::new(cut.to_vec()),
        &sb.root,
        &UnpackOptions::default()
    )
    .is_err());
    let lenient = UnpackOptions {
        lenient_end: true,
        ..Default::default()
    };
    let sb = sandbox();
    unpack(Cursor::new(cut.to_vec()), &sb.root, &lenient).unwrap();
    assert_eq!(std::fs::read(sb.root.join("b")).unwrap(), b"two");
    let sb = sandbox();
    let short = &full[..512 * 3 + 1];
    assert!(unpack(Cursor::new(short.to_vec()), &sb.root, &lenient).is_err());
}

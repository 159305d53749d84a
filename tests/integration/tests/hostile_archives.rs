//! Hostile archives through import and load: nothing lands outside the store, a refused
//! archive leaves nothing behind, and the daemon keeps serving.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use berth_tests::{tarball, Daemon, RawTar};

/// A directory outside the daemon's data root that must stay as it was.
struct Outside {
    dir: tempfile::TempDir,
}

impl Outside {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-outside-")
            .tempdir()
            .unwrap();
        std::fs::write(dir.path().join("victim"), b"original").unwrap();
        Outside { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn assert_untouched(&self) {
        let names: Vec<String> = std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["victim"], "something was written outside the store");
        assert_eq!(
            std::fs::read(self.path().join("victim")).unwrap(),
            b"original"
        );
        assert_eq!(
            std::fs::metadata(self.path().join("victim"))
                .unwrap()
                .nlink(),
            1
        );
    }
}

fn count(dir: PathBuf) -> usize {
    std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0)
}

/// The store holds exactly `images` images and nothing half-made.
fn assert_store_clean(d: &Daemon, images: usize) {
    let root = d.data_root().join("image");
    assert_eq!(count(root.join("images")), images, "image records");
    assert_eq!(
        count(root.join("layers")),
        images,
        "layers (one per test image)"
    );
    assert_eq!(
        count(root.join("blobs/sha256")),
        images * 2,
        "blobs (config and layer tar per image)"
    );
    assert_eq!(count(root.join("ingest")), 0, "ingest");
    assert_eq!(count(d.data_root().join("tmp")), 0, "staging");
    assert_eq!(
        d.get("/v1.18/images/json").json().as_array().unwrap().len(),
        images
    );
}

fn import(d: &Daemon, body: &[u8]) -> berth_tests::Response {
    d.request(
        "POST",
        "/v1.18/images/create?fromSrc=-&repo=hostile",
        &[("Content-Type", "application/x-tar")],
        body,
    )
}

#[test]
fn import_refuses_escapes_and_cleans_up() {
    let d = Daemon::start();
    let out = Outside::new();
    let o = out.path().to_str().unwrap().to_string();
    let victim = format!("{o}/victim");
    let refused: Vec<(&str, Vec<u8>)> = vec![
        (
            "dotdot",
            RawTar::new()
                .file("ok", b"1")
                .file(&format!("../../../../../../../..{o}/evil"), b"x")
                .finish(),
        ),
        (
            "dotdot-nested",
            RawTar::new().file("a/../../evil", b"x").finish(),
        ),
        (
            "hardlink-out",
            RawTar::new().hardlink("h", &victim).finish(),
        ),
        (
            "hardlink-dotdot",
            RawTar::new()
                .hardlink("h", "../../../../../../../../etc/passwd")
                .finish(),
        ),
        (
            "absurd-size",
            RawTar::new()
                .entry("huge", tar::EntryType::Regular, "", 1 << 50, b"")
                .finish(),
        ),
        (
            "truncated",
            RawTar::new()
                .entry("cut", tar::EntryType::Regular, "", 100_000, &[7u8; 3000])
                .unfinished(),
        ),
    ];
    for (name, body) in refused {
        let r = import(&d, &body);
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        assert!(
            r.text().contains("invalid archive") || r.text().contains("bytes free"),
            "{name}: {}",
            r.text()
        );
        out.assert_untouched();
        assert_store_clean(&d, 0);
    }
}

#[test]
fn import_keeps_links_and_absolute_paths_inside() {
    let d = Daemon::start();
    let out = Outside::new();
    let o = out.path().to_str().unwrap().to_string();
    let accepted: Vec<(&str, Vec<u8>)> = vec![
        (
            "absolute",
            RawTar::new().file(&format!("{o}/evil"), b"x").finish(),
        ),
        (
            "symlink-parent",
            RawTar::new()
                .symlink("link", &o)
                .file("link/evil", b"x")
                .finish(),
        ),
        (
            "symlink-relative",
            RawTar::new()
                .symlink("up", "../../../../../../../..")
                .file(&format!("up{o}/evil"), b"x")
                .finish(),
        ),
        (
            "file-over-symlink",
            RawTar::new()
                .symlink("f", &format!("{o}/victim"))
                .file("f", b"replaced")
                .finish(),
        ),
        (
            "devices",
            RawTar::new()
                .entry("dev/sda", tar::EntryType::Block, "", 0, b"")
                .entry("dev/mem", tar::EntryType::Char, "", 0, b"")
                .file("dev/ok", b"1")
                .finish(),
        ),
    ];
    for (i, (name, body)) in accepted.iter().enumerate() {
        let r = import(&d, body);
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        out.assert_untouched();
        assert_store_clean(&d, i + 1);
    }
    // The device nodes were not created.
    let layers = d.data_root().join("image/layers");
    for l in std::fs::read_dir(layers).unwrap() {
        let diff = l.unwrap().path().join("diff");
        assert!(!diff.join("dev/sda").exists() && !diff.join("dev/mem").exists());
    }
}

fn outer(entries: Vec<(&str, Vec<u8>)>) -> Vec<u8> {
    let mut t = RawTar::new();
    for (name, data) in &entries {
        t = t.file(name, data);
    }
    t.finish()
}

#[test]
fn load_refuses_hostile_archives_and_leaves_nothing() {
    let d = Daemon::start();
    let out = Outside::new();
    let o = out.path().to_str().unwrap().to_string();
    let good_layer = tarball(&[("a", b"1")]);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let manifest = |layers: &[&str]| {
        serde_json::to_vec(
            &serde_json::json!([{"Config": "c.json", "RepoTags": ["bad:1"], "Layers": layers}]),
        )
        .unwrap()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "outer-dotdot",
            outer(vec![(
                &format!("../../../../../../../..{o}/evil"),
                b"x".to_vec(),
            )]),
        ),
        (
            "manifest-points-out",
            outer(vec![
                ("manifest.json", manifest(&["../../../../../../etc/passwd"])),
                ("c.json", config.clone()),
            ]),
        ),
        (
            "layer-escapes",
            outer(vec![
                ("manifest.json", manifest(&["l/layer.tar"])),
                ("c.json", config.clone()),
                (
                    "l/layer.tar",
                    RawTar::new()
                        .file(&format!("../../../../../../../..{o}/evil"), b"x")
                        .finish(),
                ),
            ]),
        ),
        (
            "second-layer-missing",
            outer(vec![
                ("manifest.json", manifest(&["l/layer.tar", "m/layer.tar"])),
                ("c.json", config.clone()),
                ("l/layer.tar", good_layer.clone()),
            ]),
        ),
        (
            "not-a-tar",
            b"this is not a tarball at all, just text padded out....".repeat(20),
        ),
        ("empty-archive", RawTar::new().finish()),
    ];
    for (name, body) in cases {
        let r = d.request(
            "POST",
            "/v1.18/images/load",
            &[("Content-Type", "application/x-tar")],
            &body,
        );
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        out.assert_untouched();
        assert_store_clean(&d, 0);
        assert_eq!(d.get("/v1.18/images/bad:1/json").status, 404);
    }
    // Still serving.
    assert_eq!(d.get("/_ping").status, 200);
}

#[test]
fn client_disconnecting_mid_import_leaves_nothing() {
    use std::io::Write;
    let d = Daemon::start();
    let body = std::fs::read(berth_tests::busybox_tar()).unwrap();
    for _ in 0..3 {
        let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
        let head = format!(
            "POST /v1.18/images/create?fromSrc=-&repo=cut HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body[..body.len() / 2]).unwrap();
        drop(s);
    }
    // The daemon notices the closed connections and cleans up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let root = d.data_root().join("image");
        if count(root.join("ingest")) == 0
            && count(root.join("layers")) == 0
            && count(root.join("blobs/sha256")) == 0
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "leftovers after aborted imports"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_store_clean(&d, 0);
}

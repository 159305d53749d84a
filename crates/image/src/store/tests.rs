use std::io::Cursor;

use super::*;

fn tarball(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn opts(r: Option<&str>) -> ImportOptions {
    ImportOptions {
        reference: r.map(|r| Reference::parse(r).unwrap()),
        comment: "Imported from -".into(),
        architecture: "amd64".into(),
        created: jiff::Timestamp::now(),
        ..Default::default()
    }
}

fn store() -> (tempfile::TempDir, ImageStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(&dir.path().join("image")).unwrap();
    (dir, s)
}

fn no_containers(_: &Digest) -> bool {
    false
}

/// A store shared as a pull shares it.
fn shared_store() -> (tempfile::TempDir, Arc<ImageStore>) {
    let (dir, s) = store();
    (dir, Arc::new(s))
}

/// An image of one file, imported as `name`.
fn import_one(s: &ImageStore, file: &str, name: &str) -> Arc<Image> {
    s.import(
        &mut Cursor::new(tarball(&[(file, b"1")])),
        &opts(Some(name)),
    )
    .unwrap()
    .0
}

/// `bytes` stored as a blob held from sweeps, as a download is.
fn held(s: &Arc<ImageStore>, bytes: &[u8]) -> HeldBlob {
    use std::io::Write as _;
    let mut w = s.blob_writer().unwrap();
    w.write_all(bytes).unwrap();
    s.commit_blob(w, &Digest::of(bytes)).unwrap()
}

#[test]
fn import_resolves_by_name_id_and_prefix() {
    let (_d, s) = store();
    let (img, _) = s
        .import(
            &mut Cursor::new(tarball(&[("etc/hostname", b"x")])),
            &opts(Some("busybox")),
        )
        .unwrap();
    assert_eq!(img.layers.len(), 1);
    assert_eq!(img.size(), 1);
    for name in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
        &img.id.to_string(),
        &img.id.hex(),
        &img.id.hex()[..5],
    ] {
        assert_eq!(s.resolve(name).unwrap().id, img.id, "{name}");
    }
    assert!(matches!(s.resolve("nope"), Err(ImageError::NotFound(_))));
    assert!(s
        .diff_path(&img.layers[0].chain_id)
        .join("etc/hostname")
        .exists());
    assert_eq!(s.references(&img.id)[0].to_string(), "busybox:latest");
}

#[test]
fn tag_conflicts_without_force() {
    let (_d, s) = store();
    let (a, _) = s
        .import(
            &mut Cursor::new(tarball(&[("a", b"1")])),
            &opts(Some("x:1")),
        )
        .unwrap();
    let (b, _) = s
        .import(&mut Cursor::new(tarball(&[("b", b"2")])), &opts(None))
        .unwrap();
    let r = Reference::parse("x:1").unwrap();
    let err = s.tag(&b.id, &r, false).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("Conflict: Tag 1 is already set to image"),
        "{err}"
    );
    assert_eq!(s.tag(&b.id, &r, true).unwrap().previous, Some(a.id));
    assert_eq!(s.resolve("x:1").unwrap().id, b.id);
}

#[test]
fn delete_untags_then_deletes_with_last_reference() {
    let (_d, s) = store();
    let (img, _) = s
        .import(
            &mut Cursor::new(tarball(&[("a", b"1")])),
            &opts(Some("x:1")),
        )
        .unwrap();
    s.tag(&img.id, &Reference::parse("x:2").unwrap(), false)
        .unwrap();
    s.tag(&img.id, &Reference::parse("y:1").unwrap(), false)
        .unwrap();
    let e = s.delete("x:1", false, true, &no_containers).unwrap();
    assert_eq!(e.len(), 1);
    let err = s
        .delete(&img.id.hex()[..12], false, true, &no_containers)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("referenced in multiple repositories"),
        "{err}"
    );
    let e = s
        .delete(&img.id.hex()[..12], true, true, &no_containers)
        .unwrap();
    assert_eq!(
        e.iter()
            .filter(|x| matches!(x, DeleteEffect::Untagged { .. }))
            .count(),
        2
    );
    assert!(e.contains(&DeleteEffect::DeletedImage(img.id)));
    assert!(e.contains(&DeleteEffect::DeletedLayer(img.layers[0].chain_id)));
    assert!(s.resolve("y:1").is_err());
    assert!(!s.diff_path(&img.layers[0].chain_id).exists());
    assert!(s.content.list().unwrap().is_empty(), "blobs left behind");
}

#[test]
fn survives_reopen_and_sweeps_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("image");
    let id = {
        let s = ImageStore::open(&root).unwrap();
        s.import(
            &mut Cursor::new(tarball(&[("a", b"1")])),
            &opts(Some("keep")),
        )
        .unwrap()
        .0
        .id
    };
    // What a crash mid-write leaves: an unfinished layer, an ingest file, an orphan blob,
    // an orphan layer and a temp record.
    std::fs::create_dir_all(root.join("layers/tmp-123/diff")).unwrap();
    std::fs::write(root.join("ingest/999"), b"partial").unwrap();
    std::fs::write(
        root.join("blobs/sha256").join(Digest::of(b"orphan").hex()),
        b"orphan",
    )
    .unwrap();
    std::fs::create_dir_all(
        root.join("layers")
            .join(Digest::of(b"l").hex())
            .join("diff"),
    )
    .unwrap();
    std::fs::write(root.join("images/.tmp-1-2"), b"{").unwrap();
    let s = ImageStore::open(&root).unwrap();
    assert_eq!(s.resolve("keep").unwrap().id, id);
    assert_eq!(std::fs::read_dir(root.join("layers")).unwrap().count(), 1);
    assert_eq!(std::fs::read_dir(root.join("ingest")).unwrap().count(), 0);
    assert_eq!(s.content.list().unwrap().len(), 2);
    assert_eq!(std::fs::read_dir(root.join("images")).unwrap().count(), 1);
}

#[test]
fn save_then_load_roundtrips() {
    let (dir, s) = store();
    let (img, _) = s
        .import(
            &mut Cursor::new(tarball(&[("bin/sh", b"elf")])),
            &opts(Some("busybox:1")),
        )
        .unwrap();
    let mut out = Vec::new();
    s.save(&[(img.clone(), s.references(&img.id))], &mut out)
        .unwrap();
    let (_d2, s2) = store();
    let loaded = s2
        .load(&mut Cursor::new(out.clone()), &dir.path().join("tmp"))
        .unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].image.id, img.id);
    assert_eq!(s2.resolve("busybox:1").unwrap().id, img.id);
    // The same archive read as the v1 layout (what API 1.18 clients do): drop manifest.json.
    let mut filtered = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(Cursor::new(out));
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().into_owned();
        if path.to_str() == Some("manifest.json") {
            continue;
        }
        let mut h = e.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        filtered.append_data(&mut h, &path, &data[..]).unwrap();
    }
    let (_d3, s3) = store();
    let loaded = s3
        .load(
            &mut Cursor::new(filtered.into_inner().unwrap()),
            &dir.path().join("tmp"),
        )
        .unwrap();
    assert_eq!(loaded.len(), 1);
    let v1 = s3.resolve("busybox:1").unwrap();
    assert_eq!(v1.layers[0].diff_id, img.layers[0].diff_id);
    assert!(s3.diff_path(&v1.layers[0].chain_id).join("bin/sh").exists());
}

#[test]
fn loads_oci_layout_with_gzip_layers() {
    let (dir, s) = store();
    let layer = tarball(&[("hello", b"world")]);
    let diff_id = Digest::of(&layer);
    let mut gz = flate2_gz(&layer);
    let layer_digest = Digest::of(&gz);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    }))
    .unwrap();
    let config_digest = Digest::of(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest.to_string(), "size": gz.len()}],
    }))
    .unwrap();
    let manifest_digest = Digest::of(&manifest);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest.to_string(), "size": manifest.len(),
                       "annotations": {"io.containerd.image.name": "docker.io/library/hello:oci", "org.opencontainers.image.ref.name": "oci"}}],
    }))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".to_string(), index),
        (format!("blobs/sha256/{}", manifest_digest.hex()), manifest),
        (format!("blobs/sha256/{}", config_digest.hex()), config),
        (
            format!("blobs/sha256/{}", layer_digest.hex()),
            std::mem::take(&mut gz),
        ),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    let loaded = s
        .load(
            &mut Cursor::new(b.into_inner().unwrap()),
            &dir.path().join("tmp"),
        )
        .unwrap();
    assert_eq!(loaded[0].image.id, config_digest);
    assert_eq!(s.resolve("hello:oci").unwrap().id, config_digest);
    assert_eq!(
        std::fs::read(
            s.diff_path(&loaded[0].image.layers[0].chain_id)
                .join("hello")
        )
        .unwrap(),
        b"world"
    );
}

fn flate2_gz(data: &[u8]) -> Vec<u8> {
    // A stored (uncompressed) gzip member is enough to exercise detection and decoding.
    let mut out = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    for chunk in data
        .chunks(65535)
        .enumerate()
        .map(|(i, c)| (i == data.len().div_ceil(65535) - 1, c))
    {
        let (last, c) = chunk;
        out.push(last as u8);
        out.extend_from_slice(&(c.len() as u16).to_le_bytes());
        out.extend_from_slice(&(!(c.len() as u16)).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn failed_load_leaves_nothing() {
    let (dir, s) = store();
    // A manifest whose second layer is missing: the first layer gets unpacked, then removed.
    let layer = tarball(&[("a", b"1")]);
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let manifest = serde_json::to_vec(&serde_json::json!([{"Config": "c.json", "RepoTags": ["bad:1"], "Layers": ["l1/layer.tar", "l2/layer.tar"]}])).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("manifest.json", manifest),
        ("c.json", config),
        ("l1/layer.tar", layer),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    assert!(s
        .load(
            &mut Cursor::new(b.into_inner().unwrap()),
            &dir.path().join("tmp")
        )
        .is_err());
    assert!(s.resolve("bad:1").is_err());
    assert_eq!(s.layers.list().unwrap().len(), 0);
    assert_eq!(s.content.list().unwrap().len(), 0);
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0
    );
}

#[test]
fn an_image_a_container_uses_is_only_untagged() {
    let (_d, s) = store();
    let (img, _) = s
        .import(
            &mut Cursor::new(tarball(&[("a", b"1")])),
            &opts(Some("used:1")),
        )
        .unwrap();
    let used = |id: &Digest| *id == img.id;
    let err = s.delete(&img.id.hex(), false, true, &used).unwrap_err();
    assert!(
        err.to_string()
            .contains("image is being used by a container"),
        "{err}"
    );
    let e = s.delete(&img.id.hex(), true, true, &used).unwrap();
    assert_eq!(e.len(), 1, "forced: untagged only, {e:?}");
    assert!(
        s.get(&img.id).is_some(),
        "the image stays for its container"
    );
    assert!(s.diff_path(&img.layers[0].chain_id).exists());
}

fn commit_opts() -> CommitOptions {
    CommitOptions {
        config: None,
        container_config: None,
        container: "c".repeat(64),
        author: String::new(),
        comment: String::new(),
        created_by: "sh".into(),
        created: jiff::Timestamp::now(),
        docker_version: "test".into(),
        architecture: "amd64".into(),
    }
}

/// A commit is linked to its parent and marked built here, across a reopen; an import is
/// neither, so the build cache can tell the two apart.
#[test]
fn commits_are_marked_built_here_and_found_as_children() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("image");
    let (base, child) = {
        let s = ImageStore::open(&root).unwrap();
        let (base, _) = s
            .import(
                &mut Cursor::new(tarball(&[("a", b"1")])),
                &opts(Some("base")),
            )
            .unwrap();
        assert!(!base.built_here && base.parent.is_none());
        let child = s
            .commit(
                &base,
                &mut Cursor::new(tarball(&[("b", b"2")])),
                &commit_opts(),
            )
            .unwrap();
        (base.id, child.id)
    };
    let s = ImageStore::open(&root).unwrap();
    let child = s.get(&child).unwrap();
    assert!(child.built_here);
    assert_eq!(child.parent, Some(base));
    let found: Vec<Digest> = s
        .children_built_here(Some(&base))
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(found, vec![child.id]);
    assert!(s.children_built_here(Some(&child.id)).is_empty());
    assert!(
        s.children_built_here(None).is_empty(),
        "an imported image is no build step"
    );
}

/// A pull into the store at `root` that made a layer and never ended (the daemon died); the
/// layer's chain ID.
fn interrupted_pull(root: &Path) -> Digest {
    let s = Arc::new(ImageStore::open(root).unwrap());
    let mut pull = s.session();
    let layer = pull
        .create_layer(None, &mut Cursor::new(tarball(&[("a", b"1")])), None)
        .unwrap();
    std::mem::forget(pull);
    layer.chain_id
}

/// What a pull had finished when the daemon died is kept across restarts for the next pull,
/// until `image prune` lets it go; a pull that ends (well or not) leaves no note.
#[test]
fn layers_of_an_interrupted_pull_are_kept_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("image");
    let chain = interrupted_pull(&root);
    for _ in 0..2 {
        let s = ImageStore::open(&root).unwrap();
        assert!(s.layers.get(&chain).is_some(), "kept across a restart");
    }
    let s = Arc::new(ImageStore::open(&root).unwrap());
    // A pull that uses the kept layer and fails releases it: it goes.
    {
        let mut pull = s.session();
        assert!(pull.hold_existing(&chain).is_some());
    }
    assert!(
        s.layers.get(&chain).is_none(),
        "released by the pull that used it"
    );
    drop(s);
    let chain = interrupted_pull(&root);
    let s = Arc::new(ImageStore::open(&root).unwrap());
    s.release_kept_layers().unwrap();
    assert!(s.layers.get(&chain).is_none());
    assert_eq!(std::fs::read_dir(root.join("pulls")).unwrap().count(), 0);
    // A pull that fails keeps nothing.
    {
        let mut pull = s.session();
        pull.create_layer(None, &mut Cursor::new(tarball(&[("b", b"2")])), None)
            .unwrap();
    }
    assert_eq!(s.layers.list().unwrap().len(), 0);
    assert_eq!(std::fs::read_dir(root.join("pulls")).unwrap().count(), 0);
}

/// A pull that only holds layers the store has (an image up to date) costs no sweep at its
/// end; but a layer it held while the image owning it was removed goes when it ends without
/// an image of its own, and one an image still owns stays.
#[test]
fn a_layer_held_through_its_images_removal_goes_when_the_hold_ends() {
    let (_d, s) = shared_store();
    let kept = import_one(&s, "k", "k:1");
    let img = import_one(&s, "a", "x:1");
    let chain = img.layers[0].chain_id;
    let mut pull = s.session();
    assert!(pull.hold_existing(&chain).is_some());
    assert!(pull.hold_existing(&kept.layers[0].chain_id).is_some());
    s.delete("x:1", false, true, &no_containers).unwrap();
    assert!(
        s.layers.get(&chain).is_some(),
        "held: spared by the removal"
    );
    drop(pull);
    assert!(s.layers.get(&chain).is_none(), "released: swept");
    assert!(!s.content.has(&img.id), "its config went with it");
    assert!(s.layers.get(&kept.layers[0].chain_id).is_some());
    // Holding and releasing what images own leaves it all.
    let mut pull = s.session();
    assert!(pull.hold_existing(&kept.layers[0].chain_id).is_some());
    drop(pull);
    assert!(s.layers.get(&kept.layers[0].chain_id).is_some());
    assert!(s.content.has(&kept.id));
}

/// A manifest stored while its image is still on its way (a pull writes it while the config
/// downloads) stays once recorded as the image's; one never recorded goes with its hold.
#[test]
fn a_manifest_stored_ahead_of_its_image_stays_once_recorded() {
    let (_d, s) = shared_store();
    let img = import_one(&s, "a", "x:1");
    let kept: &[u8] = b"{\"manifest\":1}";
    let holding = held(&s, kept);
    s.keep_manifests(&[(kept, "application/x-test")], &img.id)
        .unwrap();
    drop(holding);
    assert_eq!(s.manifest(&Digest::of(kept)).unwrap().0, kept);
    let stray: &[u8] = b"{\"manifest\":2}";
    drop(held(&s, stray));
    assert!(!s.content.has(&Digest::of(stray)));
}

/// A download whose digest is an image's uncompressed layer tar (a registry serving it
/// uncompressed) leaves that tar when it is dropped unrecorded (a failed pull).
#[test]
fn a_dropped_download_leaves_an_images_layer_tar_of_the_same_digest() {
    let (_d, s) = shared_store();
    let img = import_one(&s, "a", "x:1");
    let tar = tarball(&[("a", b"1")]);
    let diff_id = img.layers[0].diff_id;
    assert_eq!(Digest::of(&tar), diff_id);
    drop(held(&s, &tar));
    assert!(s.content.has(&diff_id), "the image's layer tar went");
    let (_, mut read) = s.open_layer_tar(&img.layers[0]).unwrap();
    let mut back = Vec::new();
    read.read_to_end(&mut back).unwrap();
    assert_eq!(back, tar);
}

/// A pulled layer: its compressed blob is kept as the registry sent it (no uncompressed
/// copy), noted as the layer's with its repository, read back decompressed by `save`, and
/// gone with the image, manifests and notes too.
#[test]
fn pulled_layers_keep_their_compressed_blob_and_go_with_their_image() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("image");
    let s = Arc::new(ImageStore::open(&root).unwrap());
    let tar = tarball(&[("etc/motd", b"hello")]);
    let gz = flate2_gz(&tar);
    let blob_digest = Digest::of(&gz);
    let diff_id = Digest::of(&tar);
    let mut pull = s.session();
    let mut writer = s.blob_writer().unwrap();
    writer.write_all(&gz).unwrap();
    // A blob whose bytes are not what the manifest says is refused.
    let mut liar = s.blob_writer().unwrap();
    liar.write_all(b"not it").unwrap();
    assert!(s.commit_blob(liar, &blob_digest).is_err());
    let held = s.commit_blob(writer, &blob_digest).unwrap();
    pull.hold_blob(&held);
    // A tar that is not the diff ID the config names is refused, and leaves no layer.
    let wrong = Digest::of(b"another tar");
    let (_, mut gunzip) = berth_archive::decompress(s.open_blob(&blob_digest).unwrap()).unwrap();
    assert!(pull.unpack_layer(None, &mut gunzip, &wrong).is_err());
    assert!(s.layers.get(&wrong).is_none());
    let (_, mut gunzip) = berth_archive::decompress(s.open_blob(&blob_digest).unwrap()).unwrap();
    let layer = pull.unpack_layer(None, &mut gunzip, &diff_id).unwrap();
    assert_eq!(layer.tar_size, Some(tar.len() as u64));
    s.record_layer_blobs([LayerBlob {
        digest: blob_digest,
        diff_id,
        media_type: "application/vnd.docker.image.rootfs.diff.tar.gzip".into(),
        size: gz.len() as u64,
        repositories: ["127.0.0.1:5000/app".to_string()].into(),
    }]);
    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![diff_id],
        },
        ..Default::default()
    };
    let image = pull
        .register(&serde_json::to_vec(&config).unwrap())
        .unwrap();
    let manifest_bytes: &[u8] = b"{\"manifest\":1}";
    s.keep_manifests(&[(manifest_bytes, "application/x-test")], &image.id)
        .unwrap();
    let manifest = Digest::of(manifest_bytes);
    drop(held);
    drop(pull);
    // Across a restart: blob, note and manifest are there; no uncompressed copy is.
    let s = Arc::new(ImageStore::open(&root).unwrap());
    assert!(s.content.has(&blob_digest));
    assert!(!s.content.has(&diff_id));
    assert_eq!(s.layer_blobs(&diff_id)[0].repositories.len(), 1);
    assert_eq!(s.manifest(&manifest).unwrap().1, "application/x-test");
    let (len, mut read) = s.open_layer_tar(&image.layers[0]).unwrap();
    let mut back = Vec::new();
    read.read_to_end(&mut back).unwrap();
    assert_eq!((len, back), (tar.len() as u64, tar.clone()));
    // A push compresses a layer made here once; the next finds the same blob.
    let (made, _) = s
        .import(&mut Cursor::new(tarball(&[("x", b"y")])), &opts(None))
        .unwrap();
    let media = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    let first = s.compress_layer(&made.layers[0], media).unwrap();
    assert_eq!(s.layer_blobs(&made.layers[0].diff_id), vec![first.clone()]);
    // A blob only known to be on a registry (the layer was here when a pull named it) is
    // noted without bytes; the tar still comes from the bytes the store has.
    let remote = LayerBlob {
        digest: Digest::of(b"the registry's own gzip"),
        repositories: ["127.0.0.1:5000/other".to_string()].into(),
        ..first.clone()
    };
    s.record_layer_blobs([remote.clone()]);
    assert_eq!(s.layer_blobs(&made.layers[0].diff_id).len(), 2);
    assert!(!s.has_blob(&remote.digest));
    assert_eq!(
        s.open_layer_tar(&made.layers[0]).unwrap().0,
        tarball(&[("x", b"y")]).len() as u64
    );
    let (_, mut gunzip) = berth_archive::decompress(s.open_blob(&first.digest).unwrap()).unwrap();
    let mut back = Vec::new();
    gunzip.read_to_end(&mut back).unwrap();
    assert_eq!(back, tarball(&[("x", b"y")]));
    s.delete(&image.id.to_string(), false, true, &no_containers)
        .unwrap();
    assert!(!s.content.has(&blob_digest));
    assert!(!s.content.has(&manifest));
    assert!(s.layer_blobs(&diff_id).is_empty());
    assert!(s.manifest(&manifest).is_none());
    assert!(s.content.has(&first.digest), "another image's blob stays");
}

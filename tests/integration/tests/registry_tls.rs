//! Registries over TLS, on an address of a network namespace the test makes (loopback is
//! always insecure, so certificates are only checked elsewhere): certificates checked
//! against `certs.d` and the system's roots, client certificates, `--insecure-registry`, and
//! `fromSrc` over HTTPS.

use berth_tests::registry::Registry;
use berth_tests::tls::{https_files, tls_registry, Netns, TestCa};
use berth_tests::{busybox_tar, Daemon};

fn pull(d: &Daemon, name: &str) -> (bool, String) {
    let out = d.docker(&["pull", name]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn registries_over_tls_are_checked_against_certs_d_the_system_roots_or_not_at_all() {
    let ns = Netns::create();
    let ca = TestCa::create();
    let server = ca.issue("registry", &format!("subjectAltName=IP:{}", ns.ns_ip));
    let (client_cert, client_key) = ca.issue("client", "extendedKeyUsage=clientAuth");
    // The images go in over plain HTTP on loopback; the TLS registries serve the same storage.
    let plain = Registry::start();
    let base = std::fs::read(busybox_tar()).unwrap();
    plain.push_image("tls/busybox", "1", &[base]);
    let storage = plain.dir.path().join("data");
    let open = tls_registry(Some(&ns), 5000, &storage, (&server.0, &server.1), None);
    let mutual = tls_registry(
        Some(&ns),
        5001,
        &storage,
        (&server.0, &server.1),
        Some(&ca.cert()),
    );
    let certs_d = tempfile::tempdir().unwrap();
    let certs_arg = certs_d.path().to_str().unwrap().to_string();
    let d = Daemon::start_with(&["--registry-certs-dir", &certs_arg]);
    let name = format!("{}/tls/busybox:1", open.host);

    // Unknown CA: refused with Go's words, as Docker refuses it.
    let (ok, text) = pull(&d, &name);
    assert!(!ok, "{text}");
    assert!(
        text.contains("x509: certificate signed by unknown authority"),
        "{text}"
    );
    // Its CA in certs.d/<host:port>/: the pull goes through, and the image runs.
    let dir = certs_d.path().join(&open.host);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(ca.cert(), dir.join("ca.crt")).unwrap();
    let (ok, text) = pull(&d, &name);
    assert!(ok, "{text}\n{}", d.log());
    assert_eq!(
        d.docker_ok(&["run", "--rm", &name, "echo", "over tls"]),
        "over tls\n"
    );
    // A push over TLS too.
    let pushed = format!("{}/tls/pushed:1", open.host);
    d.docker_ok(&["tag", &name, &pushed]);
    let out = d.docker_ok(&["push", &pushed]);
    assert!(out.contains("1: digest: sha256:"), "{out}");

    // A registry that asks for a client certificate: none, refused; the pair in certs.d, in.
    let name = format!("{}/tls/busybox:1", mutual.host);
    let dir = certs_d.path().join(&mutual.host);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(ca.cert(), dir.join("ca.crt")).unwrap();
    let (ok, text) = pull(&d, &name);
    assert!(!ok, "{text}");
    std::fs::copy(&client_cert, dir.join("client.cert")).unwrap();
    std::fs::copy(&client_key, dir.join("client.key")).unwrap();
    let (ok, text) = pull(&d, &name);
    assert!(ok, "{text}\n{}", d.log());
    drop(d);

    // A mirror over TLS is checked against its own host's certs.d (Docker Hub's names are
    // pulled through it); the registry's name (docker.io) has none here.
    let d = Daemon::start_with(&[
        "--registry-certs-dir",
        &certs_arg,
        "--registry-mirror",
        &format!("https://{}", open.host),
    ]);
    let (ok, text) = pull(&d, "tls/busybox:1");
    assert!(ok, "{text}\n{}", d.log());
    drop(d);

    // --insecure-registry host:port: that registry unchecked, the other port still checked.
    let empty = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&[
        "--insecure-registry",
        &open.host,
        "--registry-certs-dir",
        empty.path().to_str().unwrap(),
    ]);
    let (ok, text) = pull(&d, &format!("{}/tls/busybox:1", open.host));
    assert!(ok, "{text}\n{}", d.log());
    let (ok, text) = pull(&d, &format!("{}/tls/busybox:1", mutual.host));
    assert!(!ok, "{text}");
    assert!(
        text.contains("x509: certificate signed by unknown authority"),
        "{text}"
    );
    drop(d);

    // --insecure-registry (a CIDR): no certificate is checked.
    let cidr = format!("{}/30", ns.ns_ip);
    let d = Daemon::start_with(&[
        "--insecure-registry",
        &cidr,
        "--registry-certs-dir",
        empty.path().to_str().unwrap(),
    ]);
    let (ok, text) = pull(&d, &format!("{}/tls/busybox:1", open.host));
    assert!(ok, "{text}\n{}", d.log());
    // A loopback registry (insecure always) that speaks only TLS: tried over plain HTTP, it
    // says so, and the pull goes on over TLS unchecked.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let local = tls_registry(None, port, &storage, (&server.0, &server.1), None);
    let (ok, text) = pull(&d, &format!("{}/tls/busybox:1", local.host));
    assert!(ok, "{text}\n{}", d.log());
    drop(d);

    // The system's roots (SSL_CERT_FILE here) serve registries and `fromSrc` downloads.
    let files = tempfile::tempdir().unwrap();
    std::fs::copy(busybox_tar(), files.path().join("rootfs.tar")).unwrap();
    let web = https_files(&ns, 8443, files.path(), (&server.0, &server.1));
    let roots = ca.cert().to_str().unwrap().to_string();
    let d = Daemon::start_with_env(
        &["--registry-certs-dir", empty.path().to_str().unwrap()],
        &[("SSL_CERT_FILE", &roots)],
    );
    let (ok, text) = pull(&d, &format!("{}/tls/busybox:1", open.host));
    assert!(ok, "{text}\n{}", d.log());
    let r = d.post(&format!(
        "/v1.44/images/create?fromSrc=https://{}/rootfs.tar&repo=fromweb&tag=1",
        web.host
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        d.docker_ok(&["run", "--rm", "fromweb:1", "echo", "imported"]),
        "imported\n"
    );
    d.remove_all_containers();
}

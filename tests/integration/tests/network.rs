//! Networking for real: the daemon's own bridge, container addresses, published ports through
//! the kernel's NAT, network modes, DNS and hosts files, and clean-up after stop and crash.
//! Traffic only goes between the host and containers, or between containers on the test's
//! bridge.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use berth_tests::Daemon;

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d
}

/// `busybox httpd` serving `body` on port 80.
const HTTPD: &str =
    "mkdir -p /var/www && echo $BODY > /var/www/index.html && exec httpd -f -p 80 -h /var/www";

fn run_httpd(d: &Daemon, name: &str, extra: &[&str], body: &str) -> String {
    let env = format!("BODY={body}");
    let mut args = vec!["run", "-d", "--name", name, "-e", env.as_str()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", HTTPD]);
    d.docker_ok(&args).trim().to_string()
}

/// GET / from the host; retries while the server comes up.
fn http_get(ip: Ipv4Addr, port: u16) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        match TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(2)) {
            Ok(mut s) => {
                s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
                let mut out = String::new();
                let _ = s.read_to_string(&mut out);
                if out.contains("200 OK") {
                    return out;
                }
                last = out;
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no answer from {ip}:{port}: {last}");
}

fn inspect(d: &Daemon, name: &str) -> serde_json::Value {
    d.get(&format!("/v1.18/containers/{name}/json")).json()
}

/// The veths attached to the daemon's bridge.
fn bridge_ports(d: &Daemon) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show", "master", d.bridge()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|n| n.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

/// Veths are deleted in the background (the kernel takes tens of ms): wait for `cond`.
/// Polls `cond` for up to two seconds.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    berth_tests::audit::eventually(what, Duration::from_secs(2), cond)
}

fn nat_rules(d: &Daemon) -> Vec<String> {
    let out = Command::new("iptables")
        .args(["-w", "-t", "nat", "-S", &format!("BERTH-{}", d.bridge())])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("-A"))
        .map(str::to_string)
        .collect()
}

fn host_port(d: &Daemon, name: &str, spec: &str) -> u16 {
    let out = d.docker_ok(&["port", name, spec]);
    out.lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("docker port {name} {spec}: {out:?}"))
}

#[test]
fn bridged_containers_reach_each_other_and_publish_ports() {
    let d = daemon();
    run_httpd(&d, "web", &["-p", "127.0.0.1::80"], "hello-web");
    let web = inspect(&d, "web");
    let ns = &web["NetworkSettings"];
    let ip: Ipv4Addr = ns["IPAddress"].as_str().unwrap().parse().unwrap();
    let prefix = d.subnet_prefix();
    assert!(ip.to_string().starts_with(&prefix), "{ns}");
    assert_eq!(ns["Gateway"], format!("{prefix}1"));
    assert_eq!(ns["IPPrefixLen"], 24);
    assert_eq!(ns["Bridge"], d.bridge());
    let o = ip.octets();
    assert_eq!(
        ns["MacAddress"],
        format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
    );
    assert_eq!(ns["Ports"]["80/tcp"][0]["HostIp"], "127.0.0.1");
    // Older versions: the documented spelling of the 1.7–1.15 docs.
    let old = d.get("/v1.15/containers/web/json").json()["NetworkSettings"].clone();
    assert_eq!(old["IpAddress"], ns["IPAddress"], "{old}");
    assert_eq!(old["IpPrefixLen"], 24);
    assert!(old.get("IPAddress").is_none() && old.get("MacAddress").is_none());
    assert_eq!(old["Gateway"], ns["Gateway"]);
    // From the host, through the kernel's NAT on 127.0.0.1.
    let port = host_port(&d, "web", "80/tcp");
    assert!(http_get(Ipv4Addr::LOCALHOST, port).contains("hello-web"));
    // The container list shows the mapping.
    let list = d.get("/v1.18/containers/json").json();
    assert_eq!(
        list[0]["Ports"],
        serde_json::json!([{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": port, "Type": "tcp"}])
    );
    // Container to container over the bridge, and the container's own name in /etc/hosts.
    let got = d.docker_ok(&[
        "run", "--rm", "busybox", "sh", "-c",
        &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc {ip} 80; ip -o -4 addr show eth0; cat /etc/hosts"),
    ]);
    assert!(got.contains("hello-web"), "{got}");
    assert!(got.contains(&format!("inet {prefix}")), "{got}");
    let hosts = d.docker_ok(&["exec", "web", "cat", "/etc/hosts"]);
    let hostname = web["Config"]["Hostname"].as_str().unwrap();
    assert!(hosts.contains(&format!("{ip}\t{hostname}\n")), "{hosts}");
    // -P: every exposed port on an ephemeral port of every address; udp too.
    run_httpd(&d, "all", &["--expose", "80", "-P"], "hello-all");
    let all_port = host_port(&d, "all", "80/tcp");
    assert!((32768..=60999).contains(&all_port), "{all_port}");
    assert!(http_get(Ipv4Addr::LOCALHOST, all_port).contains("hello-all"));
    // busybox's nc has no UDP: the test's own echo server, with the host's C library.
    let echo = std::path::Path::new(env!("CARGO_BIN_EXE_udp_echo"));
    let mount = format!("{}:/udp_echo:ro", echo.display());
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "udp",
        "-v",
        &mount,
        "-v",
        "/lib64:/lib64:ro",
        "-v",
        "/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro",
        "-p",
        "127.0.0.1::5353/udp",
        "busybox",
        "/udp_echo",
        "5353",
    ]);
    let udp_port = host_port(&d, "udp", "5353/udp");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut echoed = Vec::new();
    for _ in 0..50 {
        sock.send_to(b"datagram\n", ("127.0.0.1", udp_port))
            .unwrap();
        let mut buf = [0u8; 64];
        if let Ok(n) = sock.recv(&mut buf) {
            echoed = buf[..n].to_vec();
            break;
        }
    }
    assert_eq!(
        echoed, b"datagram\n",
        "the reply comes back through the NAT"
    );
    let logged = d.docker_ok(&["logs", "udp"]);
    assert!(logged.contains("datagram"), "{logged:?}");
}

#[test]
fn published_ports_reach_from_the_hosts_address_and_other_containers() {
    let d = daemon();
    run_httpd(&d, "pub", &["-p", "0:80"], "via-any");
    let port = host_port(&d, "pub", "80/tcp");
    // The host's own (non-loopback) address, without leaving this machine.
    let out = Command::new("ip")
        .args(["-o", "-4", "route", "get", "1.1.1.1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let src: Option<Ipv4Addr> = text
        .split_whitespace()
        .skip_while(|w| *w != "src")
        .nth(1)
        .and_then(|s| s.parse().ok());
    if let Some(src) = src {
        assert!(http_get(src, port).contains("via-any"));
        // From another container, through the host's address and the same NAT rule.
        let got = d.docker_ok(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc {src} {port}"),
        ]);
        assert!(got.contains("via-any"), "{got}");
    }
    assert!(http_get(Ipv4Addr::LOCALHOST, port).contains("via-any"));
}

#[test]
fn network_modes_dns_hosts_and_mac() {
    let d = daemon();
    // none: a loopback, up, and nothing else.
    let none = d.docker_ok(&["run", "--rm", "--net=none", "busybox", "ip", "-o", "link"]);
    assert_eq!(none.lines().count(), 1, "{none}");
    assert!(none.contains("lo:") && none.contains("UP"), "{none}");
    // NetworkDisabled (the API's field): the same as none.
    let r = d.post_json(
        "/v1.18/containers/create?name=nonet",
        br#"{"Image":"busybox","Cmd":["ip","-o","link"],"NetworkDisabled":true}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(d.post("/v1.18/containers/nonet/start").status, 204);
    assert_eq!(
        d.post("/v1.18/containers/nonet/wait").json()["StatusCode"],
        0
    );
    let logs = d.docker_ok(&["logs", "nonet"]);
    assert_eq!(logs.lines().count(), 1, "{logs}");
    assert_eq!(inspect(&d, "nonet")["NetworkSettings"]["IPAddress"], "");
    // host: the host's interfaces.
    let names = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let (num, rest) = l.split_once(": ")?;
                num.trim().parse::<u32>().ok()?;
                Some(rest.split([':', '@']).next()?.trim().to_string())
            })
            .collect();
        v.sort();
        v
    };
    // (Other tests add and remove veths meanwhile: compare the stable ones.)
    let host_links = names(&String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-o", "link"])
            .output()
            .unwrap()
            .stdout,
    ));
    let host = d.docker_ok(&["run", "--rm", "--net=host", "busybox", "ip", "-o", "link"]);
    let seen = names(&host);
    for want in host_links
        .iter()
        .filter(|n| !n.starts_with("veth") && !n.starts_with("bt"))
    {
        assert!(seen.contains(want), "{want} missing from {seen:?}");
    }
    assert!(seen.iter().any(|n| n == d.bridge()), "{seen:?}");
    // container:<name>: the same stack as that container.
    // (The docker CLI sends --mac-address only from API 1.44; 1.18 has it in Config.)
    let r = d.post_json(
        "/v1.18/containers/create?name=base",
        br#"{"Image":"busybox","Cmd":["sleep","1000"],"MacAddress":"02:42:ac:11:22:33"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(d.post("/v1.18/containers/base/start").status, 204);
    let base_ip = inspect(&d, "base")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        inspect(&d, "base")["NetworkSettings"]["MacAddress"],
        "02:42:ac:11:22:33"
    );
    let joined = d.docker_ok(&[
        "run",
        "--rm",
        "--net=container:base",
        "busybox",
        "ip",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(joined.contains(&format!("inet {base_ip}/24")), "{joined}");
    let mac = d.docker_ok(&["exec", "base", "cat", "/sys/class/net/eth0/address"]);
    assert_eq!(mac.trim(), "02:42:ac:11:22:33");
    // DNS and hosts files.
    let files = d.docker_ok(&[
        "run",
        "--rm",
        "--dns",
        "10.1.2.3",
        "--dns-search",
        "corp.example",
        "--add-host",
        "db.local:10.9.8.7",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; echo ---; cat /etc/hosts",
    ]);
    let (resolv, hosts) = files.split_once("---").unwrap();
    assert!(resolv.contains("nameserver 10.1.2.3"), "{resolv}");
    assert!(resolv.contains("search corp.example"), "{resolv}");
    assert!(!resolv.contains("nameserver 127."), "{resolv}");
    assert!(hosts.contains("10.9.8.7\tdb.local"), "{hosts}");
    // An unknown network is refused at create, as Docker does.
    let bad = d.docker(&["create", "--net=nosuchnet", "busybox", "true"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("network nosuchnet not found"),
        "{:?}",
        bad
    );
}

#[test]
fn a_taken_port_gives_dockers_error_and_leaves_nothing_half_connected() {
    let d = daemon();
    run_httpd(&d, "first", &["-p", "127.0.0.1::80"], "first");
    let port = host_port(&d, "first", "80/tcp");
    let ports_before = bridge_ports(&d);
    let second = d.docker(&[
        "run",
        "-d",
        "--name",
        "second",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sleep",
        "100",
    ]);
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!(
            "Bind for 127.0.0.1:{port} failed: port is already allocated"
        )),
        "{err}"
    );
    assert_eq!(inspect(&d, "second")["State"]["Running"], false);
    assert_eq!(
        bridge_ports(&d),
        ports_before,
        "no veth left by the failed start"
    );
    // A port some host process listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = listener.local_addr().unwrap().port();
    let third = d.docker(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{busy}:80"),
        "busybox",
        "sleep",
        "100",
    ]);
    let err = String::from_utf8_lossy(&third.stderr);
    assert!(err.contains("address already in use"), "{err}");
    eventually("no veth left by the failed start", || {
        bridge_ports(&d) == ports_before
    });
    assert_eq!(
        nat_rules(&d).len(),
        1,
        "only the first container's rule: {:?}",
        nat_rules(&d)
    );
    // The first one still serves.
    assert!(http_get(Ipv4Addr::LOCALHOST, port).contains("first"));
}

#[test]
fn stop_and_crash_leave_no_links_rules_or_leases() {
    let mut d = daemon();
    run_httpd(&d, "svc", &["-p", "127.0.0.1::80"], "svc");
    let ip = inspect(&d, "svc")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(bridge_ports(&d).len(), 1);
    assert_eq!(nat_rules(&d).len(), 1);
    d.docker_ok(&["stop", "-t", "0", "svc"]);
    eventually("the stopped container's veth goes", || {
        bridge_ports(&d).is_empty()
    });
    assert!(nat_rules(&d).is_empty(), "{:?}", nat_rules(&d));
    assert_eq!(inspect(&d, "svc")["NetworkSettings"]["IPAddress"], "");
    // Addresses go round: the next container does not get the one just released.
    d.docker_ok(&["start", "svc"]);
    let ip2 = inspect(&d, "svc")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(ip, ip2);
    let port = host_port(&d, "svc", "80/tcp");
    d.docker_ok(&["run", "-d", "--name", "short", "busybox", "sleep", "2"]);
    // A crash: forwarding goes on without the daemon.
    d.kill();
    assert!(http_get(Ipv4Addr::LOCALHOST, port).contains("svc"));
    // `short` exits while the daemon is down.
    std::thread::sleep(Duration::from_secs(3));
    d.spawn();
    assert!(http_get(Ipv4Addr::LOCALHOST, port).contains("svc"));
    eventually("the dead container's veth goes", || {
        bridge_ports(&d).len() == 1
    });
    assert_eq!(nat_rules(&d).len(), 1, "{:?}", nat_rules(&d));
    // The live container's address and port stay taken after the restart.
    let taken = d.docker(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "true",
    ]);
    assert!(!taken.status.success());
    let other = d.docker_ok(&["run", "-d", "busybox", "sleep", "100"]);
    let other_ip = inspect(&d, other.trim())["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(other_ip, ip2);
    d.remove_all_containers();
    eventually("every veth goes", || bridge_ports(&d).is_empty());
    assert!(nat_rules(&d).is_empty());
    let pinned = std::fs::read_dir(d.dir.path().join("exec/netns"))
        .map(|r| r.count())
        .unwrap_or(0);
    assert_eq!(pinned, 0, "no pinned namespace left");
}

#[test]
fn links_set_env_and_hosts_and_can_be_removed() {
    let d = daemon();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "-e",
        "SECRET=s3",
        "--expose",
        "5432",
        "busybox",
        "sleep",
        "1000",
    ]);
    let db = inspect(&d, "db");
    let ip = db["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let id12 = &db["Id"].as_str().unwrap()[..12];
    d.docker_ok(&[
        "run", "-d", "--name", "web", "--link", "db:data", "busybox", "sleep", "1000",
    ]);
    let env = d.docker_ok(&["exec", "web", "env"]);
    for want in [
        "DATA_NAME=/web/data".to_string(),
        format!("DATA_PORT=tcp://{ip}:5432"),
        format!("DATA_PORT_5432_TCP=tcp://{ip}:5432"),
        format!("DATA_PORT_5432_TCP_ADDR={ip}"),
        "DATA_PORT_5432_TCP_PORT=5432".to_string(),
        "DATA_PORT_5432_TCP_PROTO=tcp".to_string(),
        "DATA_ENV_SECRET=s3".to_string(),
    ] {
        assert!(
            env.lines().any(|l| l == want),
            "{want} missing from:\n{env}"
        );
    }
    assert!(!env.contains("DATA_ENV_PATH"), "{env}");
    let hosts = d.docker_ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains(&format!("{ip}\tdata {id12} db\n")),
        "{hosts}"
    );
    // The alias resolves inside the container.
    let ping = d.docker_ok(&["exec", "web", "ping", "-c", "1", "-W", "2", "data"]);
    assert!(ping.contains("1 packets received"), "{ping}");
    // The linked container is also listed under its link name.
    let list = d.get("/v1.18/containers/json").json();
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Id"] == db["Id"])
        .unwrap()["Names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["/db", "/web/data"]);
    // Links to missing or stopped containers, as Docker refuses them.
    let missing = d.docker(&["create", "--link", "nope:x", "busybox", "true"]);
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("Could not get container for nope"),
        "{missing:?}"
    );
    d.docker_ok(&["create", "--name", "idle", "busybox", "true"]);
    let stopped = d.docker(&["run", "--link", "idle:i", "busybox", "true"]);
    assert!(
        String::from_utf8_lossy(&stopped.stderr).contains("Cannot link to a non running container"),
        "{stopped:?}"
    );
    // DELETE ?link=1 removes the link.
    assert_eq!(d.delete("/v1.18/containers/web/data?link=1").status, 204);
    assert_eq!(
        inspect(&d, "web")["HostConfig"]["Links"],
        serde_json::json!([])
    );
    assert_eq!(d.delete("/v1.18/containers/web/data?link=1").status, 404);
    assert_eq!(d.delete("/v1.18/containers/web?link=1").status, 409);
}

#[test]
fn with_icc_off_only_linked_containers_reach_exposed_ports() {
    let d = Daemon::start_with(&["--icc=false"]);
    d.import_busybox("busybox:latest");
    run_httpd(&d, "srv", &["--expose", "80"], "linked-only");
    let ip = inspect(&d, "srv")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let fetch = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} 80; true");
    let linked = d.docker_ok(&[
        "run", "--rm", "--link", "srv:srv", "busybox", "sh", "-c", &fetch,
    ]);
    assert!(linked.contains("linked-only"), "{linked}");
    let stranger = d.docker_ok(&["run", "--rm", "busybox", "sh", "-c", &fetch]);
    assert!(!stranger.contains("linked-only"), "{stranger}");
    // The host still reaches it through a published port.
    run_httpd(&d, "pub", &["-p", "127.0.0.1::80"], "published");
    let port = host_port(&d, "pub", "80/tcp");
    assert!(http_get(Ipv4Addr::LOCALHOST, port).contains("published"));
}

#[test]
fn fixed_cidr_and_mtu_shape_the_bridge() {
    // A bridge of this test's own, named so the harness removes it afterwards.
    let n = std::process::id() % 100_000;
    let bridge = format!("btf{n}");
    let third = 100 + std::process::id() % 100;
    let bip = format!("10.199.{third}.1/24");
    let fixed = format!("10.199.{third}.128/25");
    let d = Daemon::start_with(&[
        "--bridge",
        &bridge,
        "--bip",
        &bip,
        "--fixed-cidr",
        &fixed,
        "--mtu",
        "1400",
    ]);
    d.import_busybox("busybox:latest");
    d.docker_ok(&["run", "-d", "--name", "mtu", "busybox", "sleep", "100"]);
    let ip: Ipv4Addr = inspect(&d, "mtu")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ip.octets()[..3], [10, 199, third as u8]);
    assert!(ip.octets()[3] >= 128, "{ip} comes from the fixed CIDR");
    let mtu = d.docker_ok(&["exec", "mtu", "cat", "/sys/class/net/eth0/mtu"]);
    assert_eq!(mtu.trim(), "1400");
    // A fixed CIDR outside the bridge's subnet stops the daemon before it makes anything.
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(berth_tests::berthd_bin())
        .args([
            "--bridge",
            "btbad",
            "--bip",
            "10.198.0.1/24",
            "--fixed-cidr",
            "10.197.0.0/24",
        ])
        .arg("--data-root")
        .arg(tmp.path().join("data"))
        .arg("--exec-root")
        .arg(tmp.path().join("exec"))
        .arg("-H")
        .arg(format!("unix://{}", tmp.path().join("sock").display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fixed-cidr"), "{err}");
    let links = Command::new("ip")
        .args(["link", "show", "btbad"])
        .output()
        .unwrap();
    assert!(!links.status.success(), "no bridge was made");
}

#[test]
fn bad_network_settings_are_refused_at_create() {
    let d = daemon();
    for (body, want) in [
        (
            r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"abc"}]}}}"#,
            "invalid hostPort: abc",
        ),
        (
            r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"PortBindings":{"http/tcp":[{"HostPort":"80"}]}}}"#,
            "invalid containerPort: http",
        ),
        (
            r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"1.2.3","HostPort":"80"}]}}}"#,
            "invalid IP address: 1.2.3",
        ),
        (
            r#"{"Image":"busybox","Cmd":["true"],"MacAddress":"02:42:zz:00:00:01"}"#,
            "invalid MAC address",
        ),
        (
            r#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"container:"}}"#,
            "not found",
        ),
    ] {
        let r = d.post_json("/v1.18/containers/create", body.as_bytes());
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(r.text().contains(want), "{body}: {}", r.text());
    }
    assert_eq!(
        d.get("/v1.18/containers/json?all=1").json(),
        serde_json::json!([]),
        "nothing half-made"
    );
}

/// The inode of a namespace file: two paths name the same namespace when they match.
fn ns_inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .ino()
}

#[test]
fn network_settings_show_each_networks_endpoint_at_1_44() {
    let mut d = daemon();
    let at =
        |d: &Daemon, v: &str, name: &str| d.get(&format!("/v{v}/containers/{name}/json")).json();
    d.docker_ok(&["create", "--name", "web", "busybox", "sleep", "1000"]);
    // Created: an endpoint on the bridge that is not yet on it (Docker's empty NetworkID).
    let created = at(&d, "1.44", "web")["NetworkSettings"].clone();
    assert_eq!(created["Networks"]["bridge"]["NetworkID"], "", "{created}");
    assert_eq!(created["Networks"]["bridge"]["EndpointID"], "");
    assert_eq!(created["SandboxID"], "");
    d.docker_ok(&["start", "web"]);
    let ns = at(&d, "1.44", "web")["NetworkSettings"].clone();
    let ep = &ns["Networks"]["bridge"];
    let bridge_id = ep["NetworkID"].as_str().unwrap().to_string();
    let endpoint_id = ep["EndpointID"].as_str().unwrap().to_string();
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    assert!(hex64(&bridge_id) && hex64(&endpoint_id), "{ns}");
    assert!(hex64(ns["SandboxID"].as_str().unwrap()), "{ns}");
    // The top-level addresses are the bridge endpoint's.
    for field in [
        "EndpointID",
        "IPAddress",
        "IPPrefixLen",
        "Gateway",
        "MacAddress",
    ] {
        assert_eq!(ns[field], ep[field], "{field}: {ns}");
    }
    let ip = ns["IPAddress"].as_str().unwrap().to_string();
    assert!(ip.starts_with(&d.subnet_prefix()), "{ip}");
    assert_eq!(
        ep["DNSNames"],
        serde_json::Value::Null,
        "none on the default bridge"
    );
    // SandboxKey is the container's network namespace (what `nsenter --net=` takes).
    let pid = at(&d, "1.44", "web")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(
        ns_inode(ns["SandboxKey"].as_str().unwrap()),
        ns_inode(&format!("/proc/{pid}/ns/net"))
    );
    // As the CLI and testcontainers read them.
    let cli_ip = d.docker_ok(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.Networks.bridge.IPAddress}}",
        "web",
    ]);
    assert_eq!(cli_ip.trim(), ip);
    let ps = d.docker_ok(&["ps", "--format", "{{.Networks}}", "--filter", "name=web"]);
    assert_eq!(ps.trim(), "bridge");
    let listed = d.get("/v1.44/containers/json").json();
    assert_eq!(
        listed[0]["NetworkSettings"]["Networks"]["bridge"]["IPAddress"],
        ip.as_str()
    );
    // API 1.18 has no Networks.
    assert!(at(&d, "1.18", "web")["NetworkSettings"]
        .get("Networks")
        .is_none());
    // host and none have IDs of their own; container: networking has no endpoint.
    for (name, net) in [
        ("onhost", "host"),
        ("alone", "none"),
        ("joined", "container:web"),
    ] {
        let net = format!("--net={net}");
        d.docker_ok(&[
            "run", "-d", "--name", name, &net, "busybox", "sleep", "1000",
        ]);
    }
    let onhost = at(&d, "1.44", "onhost")["NetworkSettings"].clone();
    let alone = at(&d, "1.44", "alone")["NetworkSettings"].clone();
    let host_id = onhost["Networks"]["host"]["NetworkID"].as_str().unwrap();
    let none_id = alone["Networks"]["none"]["NetworkID"].as_str().unwrap();
    assert!(hex64(host_id) && hex64(none_id));
    assert!(host_id != bridge_id && none_id != bridge_id && host_id != none_id);
    assert_eq!(onhost["Networks"]["host"]["IPAddress"], "");
    assert_eq!(onhost["IPAddress"], "");
    assert_eq!(
        ns_inode(onhost["SandboxKey"].as_str().unwrap()),
        ns_inode("/proc/self/ns/net"),
        "a host container's sandbox is the host's namespace"
    );
    let alone_pid = at(&d, "1.44", "alone")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(
        ns_inode(alone["SandboxKey"].as_str().unwrap()),
        ns_inode(&format!("/proc/{alone_pid}/ns/net"))
    );
    let joined = at(&d, "1.44", "joined")["NetworkSettings"].clone();
    assert_eq!(joined["Networks"], serde_json::json!({}), "{joined}");
    assert_eq!(joined["SandboxID"], "");
    // The IDs outlive a daemon restart; the running container keeps its endpoint.
    d.stop();
    d.spawn();
    let again = at(&d, "1.44", "web")["NetworkSettings"]["Networks"]["bridge"].clone();
    assert_eq!(again["NetworkID"], bridge_id.as_str());
    assert_eq!(again["EndpointID"], endpoint_id.as_str());
    // Stopped: the network is kept, the endpoint and its addresses go (Docker's release).
    d.docker_ok(&["stop", "-t", "0", "web"]);
    let stopped = at(&d, "1.44", "web")["NetworkSettings"].clone();
    let ep = &stopped["Networks"]["bridge"];
    assert_eq!(ep["NetworkID"], bridge_id.as_str(), "{stopped}");
    for field in ["EndpointID", "IPAddress", "Gateway", "MacAddress"] {
        assert_eq!(ep[field], "", "{field}: {stopped}");
        assert_eq!(stopped[field], "", "{field}: {stopped}");
    }
    assert_eq!(stopped["SandboxID"], "");
    assert_eq!(stopped["SandboxKey"], "");
    // A new start, a new endpoint on the same network.
    d.docker_ok(&["start", "web"]);
    let restarted = at(&d, "1.44", "web")["NetworkSettings"]["Networks"]["bridge"].clone();
    assert_eq!(restarted["NetworkID"], bridge_id.as_str());
    assert_ne!(restarted["EndpointID"], endpoint_id.as_str());
    d.remove_all_containers();
}

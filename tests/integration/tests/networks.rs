//! User-defined networks with the docker CLI: containers on one network reach each other by
//! name and alias (the resolver at 127.0.0.11), not across networks; names follow connect,
//! disconnect, rename, restart and removal, and keep being answered while berthd is down;
//! other names go to the container's servers from the host's namespace; Docker's errors
//! for bad requests leave nothing half-made.

use std::net::Ipv4Addr;
use std::process::Command;

use berth_tests::dns_server::DnsServer;
use berth_tests::Daemon;

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d
}

/// `docker run -d --name NAME OPTS… busybox sleep 300`.
fn sleeper(d: &Daemon, name: &str, opts: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(opts);
    args.extend(["busybox", "sleep", "300"]);
    d.docker_ok(&args);
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The first address `nslookup` prints for `name` inside `container`, if any.
fn lookup(d: &Daemon, container: &str, name: &str) -> Option<String> {
    let out = d.docker(&["exec", container, "nslookup", name]);
    parse_nslookup(&String::from_utf8_lossy(&out.stdout))
}

fn parse_nslookup(text: &str) -> Option<String> {
    // The server's own address comes first (`Address: 127.0.0.11:53`).
    text.lines()
        .filter_map(|l| l.strip_prefix("Address:"))
        .map(str::trim)
        .find(|a| !a.starts_with("127.0.0.11"))
        .map(str::to_string)
}

fn ip_of(d: &Daemon, container: &str, network: &str) -> String {
    d.docker_ok(&[
        "inspect",
        "--format",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        container,
    ])
    .trim()
    .to_string()
}

fn pings(d: &Daemon, container: &str, target: &str) -> bool {
    d.docker(&["exec", container, "ping", "-c", "1", "-W", "2", target])
        .status
        .success()
}

#[test]
fn containers_on_a_network_reach_each_other_by_name_and_alias_and_no_one_else() {
    let d = daemon();
    d.docker_ok(&["network", "create", "front"]);
    d.docker_ok(&["network", "create", "--subnet", "10.151.0.0/24", "back"]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "front",
        "--network-alias",
        "www",
        "busybox",
        "sh",
        "-c",
        "echo served > /index.html && httpd -f -p 80 -h /",
    ]);
    sleeper(&d, "client", &["--network", "front"]);
    sleeper(&d, "outsider", &["--network", "back"]);
    let web_ip = ip_of(&d, "web", "front");
    assert!(!web_ip.is_empty());
    // By name, by alias, by short ID; ping and a TCP connection with nc.
    assert_eq!(
        lookup(&d, "client", "web").as_deref(),
        Some(web_ip.as_str())
    );
    assert_eq!(
        lookup(&d, "client", "www").as_deref(),
        Some(web_ip.as_str())
    );
    let web_id = d.docker_ok(&["inspect", "--format", "{{.Id}}", "web"]);
    assert_eq!(
        lookup(&d, "client", &web_id[..12]).as_deref(),
        Some(web_ip.as_str())
    );
    assert_eq!(
        lookup(&d, "client", "web.front").as_deref(),
        Some(web_ip.as_str())
    );
    assert!(pings(&d, "client", "web"));
    // A link on a user-defined network: a name for the linking container alone.
    sleeper(&d, "linker", &["--network", "front", "--link", "web:db"]);
    assert_eq!(lookup(&d, "linker", "db").as_deref(), Some(web_ip.as_str()));
    assert_eq!(lookup(&d, "client", "db"), None);
    for name in ["web", "www"] {
        let page = d.docker_ok(&[
            "exec",
            "client",
            "sh",
            "-c",
            &format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {name} 80"),
        ]);
        assert!(page.contains("served"), "{page}");
    }
    // resolv.conf as Docker writes it on a user-defined network.
    let resolv = d.docker_ok(&["exec", "client", "cat", "/etc/resolv.conf"]);
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    assert!(resolv.contains("options ndots:0"), "{resolv}");
    // The other network neither resolves nor reaches it.
    assert_eq!(lookup(&d, "outsider", "web"), None);
    assert!(!pings(&d, "outsider", &web_ip));
    // Connected with an alias: now it does, by both; disconnected: no more.
    d.docker_ok(&["network", "connect", "--alias", "spy", "front", "outsider"]);
    assert_eq!(
        lookup(&d, "outsider", "web").as_deref(),
        Some(web_ip.as_str())
    );
    assert!(pings(&d, "outsider", "web"));
    let spy_ip = ip_of(&d, "outsider", "front");
    assert_eq!(
        lookup(&d, "client", "spy").as_deref(),
        Some(spy_ip.as_str())
    );
    let addrs = d.docker_ok(&["exec", "outsider", "ip", "-4", "-o", "addr"]);
    assert!(addrs.contains("eth0") && addrs.contains("eth1"), "{addrs}");
    let hosts = d.docker_ok(&["exec", "outsider", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&format!("{spy_ip}\t")), "{hosts}");
    d.docker_ok(&["network", "disconnect", "front", "outsider"]);
    assert_eq!(lookup(&d, "client", "spy"), None);
    assert_eq!(lookup(&d, "outsider", "web"), None);
    let addrs = d.docker_ok(&["exec", "outsider", "ip", "-4", "-o", "addr"]);
    assert!(!addrs.contains("eth1"), "{addrs}");
    let hosts = d.docker_ok(&["exec", "outsider", "cat", "/etc/hosts"]);
    assert!(!hosts.contains(&format!("{spy_ip}\t")), "{hosts}");
    // `host-gateway`: the host's address on the default bridge, reachable from here too.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "front",
        "--add-host",
        "host.docker.internal:host-gateway",
        "busybox",
        "sh",
        "-c",
        "grep host.docker.internal /etc/hosts && ping -c 1 -W 2 host.docker.internal",
    ]);
    assert!(
        out.starts_with(&format!("{}1\thost.docker.internal\n", d.subnet_prefix())),
        "{out}"
    );
    // Rename: the new name answers at once, the old one no more.
    d.docker_ok(&["rename", "web", "web2"]);
    assert_eq!(
        lookup(&d, "client", "web2").as_deref(),
        Some(web_ip.as_str())
    );
    assert_eq!(lookup(&d, "client", "web"), None);
    // Restarted (a new namespace at the same path): still asked and answered.
    d.docker_ok(&["restart", "-t", "0", "client"]);
    assert!(lookup(&d, "client", "web2").is_some());
    // Stopped: gone from the names.
    d.docker_ok(&["stop", "-t", "0", "web2"]);
    assert_eq!(lookup(&d, "client", "web2"), None);
    // Inspect: the network's containers, the endpoint's aliases (with the short ID below
    // API 1.45, which compose relies on) and DNS names.
    let net = d.get("/v1.44/networks/front").json();
    let members = net["Containers"].as_object().unwrap();
    assert_eq!(members.len(), 2, "client and linker: {net}");
    let client = d.get("/v1.44/containers/client/json").json();
    let ep = &client["NetworkSettings"]["Networks"]["front"];
    let client_id = client["Id"].as_str().unwrap();
    assert_eq!(ep["NetworkID"], net["Id"]);
    assert!(
        ep["Aliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == &client_id[..12]),
        "{ep}"
    );
    assert_eq!(ep["DNSNames"][0], "client");
    let old = d.get("/v1.43/containers/client/json").json();
    assert!(old["NetworkSettings"]["Networks"]["front"]
        .get("DNSNames")
        .is_none());
    d.remove_all_containers();
}

#[test]
fn names_keep_being_answered_while_berthd_is_down() {
    let mut d = daemon();
    d.docker_ok(&["network", "create", "--subnet", "10.152.0.0/24", "steady"]);
    sleeper(
        &d,
        "db",
        &["--network", "steady", "--network-alias", "database"],
    );
    sleeper(&d, "app", &["--network", "steady"]);
    let db_ip = ip_of(&d, "db", "steady");
    let sandbox = d
        .docker_ok(&[
            "inspect",
            "--format",
            "{{.NetworkSettings.SandboxKey}}",
            "app",
        ])
        .trim()
        .to_string();
    assert!(!sandbox.is_empty());
    // Asked from inside the container's namespace with the host's busybox: no daemon needed.
    let ask = |name: &str| {
        let out = Command::new("nsenter")
            .args([
                &format!("--net={sandbox}"),
                "busybox",
                "nslookup",
                name,
                "127.0.0.11",
            ])
            .output()
            .unwrap();
        parse_nslookup(&String::from_utf8_lossy(&out.stdout))
    };
    assert_eq!(ask("database").as_deref(), Some(db_ip.as_str()));
    // Over TCP too (what resolvers fall back to for long answers).
    assert_eq!(tcp_lookup(&sandbox, "database"), Some(db_ip.clone()));
    d.kill();
    assert_eq!(
        ask("database").as_deref(),
        Some(db_ip.as_str()),
        "berthd is down"
    );
    assert_eq!(ask("db").as_deref(), Some(db_ip.as_str()));
    d.spawn();
    assert_eq!(
        ask("database").as_deref(),
        Some(db_ip.as_str()),
        "after the restart"
    );
    // The restarted daemon took the network back: the containers still reach each other.
    assert!(pings(&d, "app", "db"), "after the restart");
    // A resolver that dies while needed is started again by the daemon.
    let pid = std::fs::read_to_string(d.exec_root().join("resolver/resolver.pid")).unwrap();
    Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if ask("database").as_deref() == Some(db_ip.as_str()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no resolver came back"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let again = std::fs::read_to_string(d.exec_root().join("resolver/resolver.pid")).unwrap();
    assert_ne!(again.trim(), pid.trim());
    // The restarted daemon still publishes changes.
    sleeper(&d, "late", &["--network", "steady"]);
    assert_eq!(ask("late"), Some(ip_of(&d, "late", "steady")));
    d.remove_all_containers();
    // With no container left on a user-defined network, the resolver leaves.
    let control = d.exec_root().join("resolver/control.sock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while control.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!control.exists(), "the resolver is still there");
}

#[test]
fn other_names_go_to_the_containers_servers_from_the_hosts_namespace() {
    let d = daemon();
    // A resolver on the host's loopback, which the container could not reach itself.
    let upstream = DnsServer::start(
        Ipv4Addr::new(127, 0, 0, 77),
        &[("upstream.test", Ipv4Addr::new(192, 0, 2, 7))],
    );
    d.docker_ok(&["network", "create", "--subnet", "10.153.0.0/24", "fwd"]);
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "fwd",
        "--dns",
        "127.0.0.77",
        "--dns-search",
        "corp.test",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf; nslookup upstream.test",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("nameserver 127.0.0.11\nsearch corp.test\n"),
        "{text}"
    );
    assert_eq!(
        parse_nslookup(&text).as_deref(),
        Some("192.0.2.7"),
        "{text}"
    );
    assert!(upstream.questions.load(std::sync::atomic::Ordering::SeqCst) > 0);
    // A name no one knows: the upstream's NXDOMAIN.
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "fwd",
        "--dns",
        "127.0.0.77",
        "busybox",
        "nslookup",
        "nobody.test",
    ]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("NXDOMAIN")
            || stderr(&out).contains("NXDOMAIN"),
        "{out:?}"
    );
}

#[test]
fn networks_are_created_listed_inspected_and_removed_with_dockers_errors() {
    let d = daemon();
    let id = d.docker_ok(&[
        "network",
        "create",
        "--subnet",
        "10.154.0.0/16",
        "--ip-range",
        "10.154.5.0/24",
        "--gateway",
        "10.154.0.254",
        "--aux-address",
        "reserved=10.154.5.0",
        "--label",
        "team=blue",
        "-o",
        "com.docker.network.driver.mtu=1400",
        "pool",
    ]);
    let id = id.trim();
    let net = d.get("/v1.44/networks/pool").json();
    assert_eq!(net["Id"], id);
    assert_eq!(net["Driver"], "bridge");
    assert_eq!(net["Scope"], "local");
    assert_eq!(net["Labels"]["team"], "blue");
    assert_eq!(net["Options"]["com.docker.network.driver.mtu"], "1400");
    let ipam = &net["IPAM"]["Config"][0];
    assert_eq!(ipam["Subnet"], "10.154.0.0/16");
    assert_eq!(ipam["IPRange"], "10.154.5.0/24");
    assert_eq!(ipam["Gateway"], "10.154.0.254");
    assert_eq!(ipam["AuxiliaryAddresses"]["reserved"], "10.154.5.0");
    // Addresses come from the range, skipping the reserved one; the MTU is the network's.
    sleeper(&d, "c1", &["--network", "pool"]);
    assert_eq!(ip_of(&d, "c1", "pool"), "10.154.5.1");
    let link = d.docker_ok(&["exec", "c1", "ip", "-o", "link", "show", "eth0"]);
    assert!(link.contains("mtu 1400"), "{link}");
    let route = d.docker_ok(&["exec", "c1", "ip", "route"]);
    assert!(route.contains("default via 10.154.0.254"), "{route}");
    // A static address, inside and outside.
    sleeper(&d, "c2", &["--network", "pool", "--ip", "10.154.9.9"]);
    assert_eq!(ip_of(&d, "c2", "pool"), "10.154.9.9");
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "pool",
        "--ip",
        "10.155.0.9",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out).contains(
            "Invalid address 10.155.0.9: It does not belong to any of this network's subnets"
        ),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "pool",
        "--ip",
        "10.154.9.9",
        "busybox",
        "true",
    ]);
    assert!(
        stderr(&out).contains("Address already in use"),
        "{}",
        stderr(&out)
    );
    let auto_id = d.docker_ok(&["network", "create", "auto"]);
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        "auto",
        "--ip",
        "172.30.0.9",
        "busybox",
        "true",
    ]);
    assert!(stderr(&out).contains("user specified IP address is supported only when connecting to networks with user configured subnets"), "{}", stderr(&out));
    // Listing and its filters.
    let names = |args: &[&str]| {
        let mut a = vec!["network", "ls", "--format", "{{.Name}}"];
        a.extend_from_slice(args);
        let mut v: Vec<String> = d.docker_ok(&a).lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(names(&["--filter", "label=team=blue"]), ["pool"]);
    assert_eq!(names(&["--filter", "type=custom"]), ["auto", "pool"]);
    assert_eq!(names(&["--filter", "dangling=true"]), ["auto"]);
    // Docker's refusals, each leaving no bridge behind.
    let refused = |args: &[&str], wanted: &str| {
        let out = d.docker(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(wanted), "{args:?}: {}", stderr(&out));
    };
    refused(
        &["network", "create", "pool"],
        "network with name pool already exists",
    );
    refused(
        &["network", "create", "--subnet", "10.154.8.0/24", "overlap"],
        "Pool overlaps with other one on this address space",
    );
    refused(
        &["network", "create", "-d", "nosuch", "x"],
        "plugin \"nosuch\" not found",
    );
    refused(
        &["network", "create", "--ingress", "x"],
        "Ingress network can only be global scope network",
    );
    refused(
        &["network", "create", "--scope", "swarm", "x"],
        "cannot create a swarm scoped network when swarm is not active",
    );
    refused(
        &[
            "network",
            "create",
            "-o",
            "com.docker.network.bridge.enable_icc=notabool",
            "x",
        ],
        "failed to parse com.docker.network.bridge.enable_icc value: notabool",
    );
    refused(
        &["network", "create", "-d", "host", "x"],
        "only one instance of \"host\" network is allowed",
    );
    let r = d.post_json(
        "/v1.44/networks/create",
        br#"{"Name":"gw","IPAM":{"Config":[{"Subnet":"10.156.0.0/16","Gateway":"10.157.0.1"}]}}"#,
    );
    assert_eq!(
        (r.status, r.message()),
        (400, "no matching subnet for gateway 10.157.0.1".into())
    );
    let r = d.post_json("/v1.44/networks/create", br#"{"Name":""}"#);
    assert_eq!(r.status, 400);
    let r = d.post_json(
        "/v1.44/networks/create",
        br#"{"Name":"bad","Options":{"com.docker.network.driver.mtu":"abc"}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = d.post_json("/v1.44/networks/create", br#"{"Name":5}"#);
    assert_eq!(r.status, 400);
    refused(
        &["network", "connect", "pool", "c1"],
        "endpoint with name c1 already exists in network pool",
    );
    refused(
        &["network", "disconnect", "auto", "c1"],
        "is not connected to network auto",
    );
    refused(&["network", "rm", "pool"], "has active endpoints");
    refused(
        &["network", "rm", "none"],
        "none is a pre-defined network and cannot be removed",
    );
    refused(
        &["network", "inspect", "nosuch"],
        "network nosuch not found",
    );
    refused(
        &["run", "--rm", "--network", "nosuch", "busybox", "true"],
        "network nosuch not found",
    );
    sleeper(&d, "lonely", &["--network", "none"]);
    refused(&["network", "connect", "auto", "lonely"], "container cannot be connected to multiple networks with one of the networks in private (none) mode");
    let r = d.post_json(
        "/v1.43/containers/create",
        br#"{"Image":"busybox","Cmd":["true"],"NetworkingConfig":{"EndpointsConfig":{"pool":{},"auto":{}}}}"#,
    );
    assert_eq!(
        (r.status, r.message()),
        (
            400,
            "Container cannot be connected to network endpoints: auto, pool".into()
        )
    );
    // From 1.44 a create names several: the container starts on both.
    let r = d.post_json(
        "/v1.44/containers/create?name=both",
        br#"{"Image":"busybox","Cmd":["sleep","300"],"HostConfig":{"NetworkMode":"pool"},"NetworkingConfig":{"EndpointsConfig":{"pool":{"Aliases":["b"]},"auto":{}}}}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    d.docker_ok(&["start", "both"]);
    assert!(!ip_of(&d, "both", "auto").is_empty());
    assert!(ip_of(&d, "both", "pool").starts_with("10.154.5."));
    assert_eq!(lookup(&d, "c1", "b"), Some(ip_of(&d, "both", "pool")));
    // Connected while created, and while stopped: joined at the next start, with a MAC asked.
    d.docker_ok(&[
        "create",
        "--name",
        "later",
        "--network",
        "auto",
        "busybox",
        "sleep",
        "300",
    ]);
    d.docker_ok(&["network", "connect", "--alias", "l8r", "pool", "later"]);
    d.docker_ok(&["start", "later"]);
    assert!(ip_of(&d, "later", "pool").starts_with("10.154.5."));
    assert_eq!(lookup(&d, "c1", "l8r"), Some(ip_of(&d, "later", "pool")));
    d.docker_ok(&["stop", "-t", "0", "later"]);
    d.docker_ok(&["network", "disconnect", "pool", "later"]);
    let r = d.post_json(
        "/v1.44/networks/pool/connect",
        br#"{"Container":"later","EndpointConfig":{"MacAddress":"02:42:0a:9a:77:77"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    d.docker_ok(&["start", "later"]);
    let mac = d.docker_ok(&[
        "inspect",
        "--format",
        "{{(index .NetworkSettings.Networks \"pool\").MacAddress}}",
        "later",
    ]);
    assert_eq!(mac.trim(), "02:42:0a:9a:77:77");
    // No container runs on it: removed, bridge and all; prune takes the unused ones.
    d.remove_all_containers();
    d.docker_ok(&["network", "create", "--label", "keep=yes", "kept"]);
    let pruned = d.docker_ok(&["network", "prune", "-f", "--filter", "label!=keep=yes"]);
    assert!(
        pruned.contains("pool") && pruned.contains("auto"),
        "{pruned}"
    );
    assert_eq!(names(&["--filter", "type=custom"]), ["kept"]);
    d.docker_ok(&["network", "rm", "kept"]);
    for gone in [id, auto_id.trim()] {
        assert!(
            !bridge_exists(&format!("br-{}", &gone[..12])),
            "bridge of {gone} left behind"
        );
    }
    assert!(d.user_bridges().is_empty());
}

#[test]
fn internal_networks_have_no_way_out() {
    let d = daemon();
    d.docker_ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.158.0.0/24",
        "vault",
    ]);
    let net = d.get("/v1.44/networks/vault").json();
    assert_eq!(net["Internal"], true);
    sleeper(&d, "safe", &["--network", "vault"]);
    sleeper(&d, "peer", &["--network", "vault"]);
    assert!(pings(&d, "peer", "safe"));
    let route = d.docker_ok(&["exec", "safe", "ip", "route"]);
    assert!(!route.contains("default"), "{route}");
    // The daemon's default bridge, another network of the host, is out of reach.
    let gateway = d.subnet_prefix() + "1";
    assert!(!pings(&d, "safe", &gateway));
    d.remove_all_containers();
}

/// `name` asked of 127.0.0.11 over TCP from inside the namespace at `netns`: its first
/// address.
fn tcp_lookup(netns: &str, name: &str) -> Option<String> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RData, RecordType};
    use std::io::{Read, Write};
    let ns = std::fs::File::open(netns).unwrap();
    let mut q = Message::new();
    q.set_id(99)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(
            Name::from_ascii(format!("{name}.")).unwrap(),
            RecordType::A,
        ));
    let query = q.to_vec().unwrap();
    std::thread::spawn(move || {
        use std::os::fd::AsFd;
        rustix::thread::move_into_link_name_space(
            ns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .unwrap();
        let mut s = std::net::TcpStream::connect("127.0.0.11:53").ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        s.write_all(&(query.len() as u16).to_be_bytes()).unwrap();
        s.write_all(&query).unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).ok()?;
        let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut reply).ok()?;
        let reply = Message::from_vec(&reply).ok()?;
        reply.answers().iter().find_map(|a| match a.data() {
            RData::A(ip) => Some(ip.0.to_string()),
            _ => None,
        })
    })
    .join()
    .unwrap()
}

fn bridge_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn networks_and_volumes_have_dockers_events() {
    let d = daemon();
    let since = jiff::Timestamp::now().as_second();
    d.docker_ok(&["network", "create", "--subnet", "10.159.0.0/24", "evnet"]);
    d.docker_ok(&["volume", "create", "evvol"]);
    d.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "evnet",
        "-v",
        "evvol:/d",
        "busybox",
        "true",
    ]);
    d.docker_ok(&["network", "rm", "evnet"]);
    d.docker_ok(&["volume", "rm", "evvol"]);
    let until = jiff::Timestamp::now().as_second() + 1;
    let out = d.docker_ok(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "type=network",
        "--filter",
        "type=volume",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(
        got,
        [
            "network create evnet",
            "volume create <no value>",
            "volume mount <no value>",
            "network connect evnet",
            "network disconnect evnet",
            "volume unmount <no value>",
            "network destroy evnet",
            "volume destroy <no value>",
        ],
        "{out}"
    );
}

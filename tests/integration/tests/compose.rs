//! docker-compose 1.29 (as scripts/install-test-deps.sh installs it) on berthd: a project of
//! three services on a network of its own — a busybox web server, a client that fetches from
//! it by service name in a loop, a writer on a named volume — through `up -d`, `ps`, `logs`,
//! `exec`, `restart`, `up -d --scale` and `down -v`, which leaves nothing behind.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_tests::Daemon;

const PROJECT: &str = r#"version: "2.4"
services:
  web:
    image: busybox
    command: sh -c "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"
    networks: [appnet]
  client:
    image: busybox
    command: sh -c 'while true; do printf "GET /index.html HTTP/1.0\r\n\r\n" | nc -w 2 web 8080 | tail -1; sleep 0.3; done'
    networks: [appnet]
    depends_on: [web]
  writer:
    image: busybox
    command: sh -c 'while true; do date >> /data/log; sleep 0.3; done'
    volumes: [data:/data]
    networks: [appnet]
networks:
  appnet: {}
volumes:
  data: {}
"#;

struct Project<'a> {
    d: &'a Daemon,
    dir: tempfile::TempDir,
}

impl Project<'_> {
    fn compose(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("/opt/berth-compose/bin/docker-compose")
            .args(["--no-ansi", "-p", "shop"])
            .args(args)
            .current_dir(self.dir.path())
            .env("DOCKER_HOST", format!("unix://{}", self.d.socket.display()))
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.compose(args);
        assert!(ok, "docker-compose {args:?}: {text}");
        text
    }

    /// How many times the client has got the page so far.
    fn pages_fetched(&self) -> usize {
        self.ok(&["logs", "client"])
            .matches("hello-from-web")
            .count()
    }

    /// Waits until the client has fetched more pages than `than`.
    fn wait_for_more_pages(&self, than: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let n = self.pages_fetched();
            if n > than {
                return n;
            }
            assert!(Instant::now() < deadline, "the client fetches nothing");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn a_three_service_project_runs_scales_and_goes_away() {
    assert!(
        Path::new("/opt/berth-compose/bin/docker-compose").exists(),
        "docker-compose 1.29 (scripts/install-test-deps.sh installs it)"
    );
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), PROJECT).unwrap();
    let p = Project { d: &d, dir };
    p.ok(&["up", "-d"]);
    let ps = p.ok(&["ps"]);
    for name in ["shop_web_1", "shop_client_1", "shop_writer_1"] {
        let line = ps.lines().find(|l| l.starts_with(name)).unwrap_or_default();
        assert!(line.contains(" Up"), "{name}: {ps}");
    }
    // The client reaches the web server by its service name.
    let fetched = p.wait_for_more_pages(0);
    // The writer's volume is compose's named volume.
    let log = p.ok(&["exec", "-T", "writer", "cat", "/data/log"]);
    assert!(!log.trim().is_empty());
    let volumes = d.docker_ok(&["volume", "ls", "--format", "{{.Name}}"]);
    assert!(volumes.lines().any(|v| v == "shop_data"), "{volumes}");
    // Restarted, every service comes back and the client finds the server again.
    p.ok(&["restart", "-t", "1"]);
    let fetched = p.wait_for_more_pages(fetched);
    let kept = p.ok(&["exec", "-T", "writer", "cat", "/data/log"]);
    assert!(
        kept.starts_with(log.lines().next().unwrap()),
        "the volume kept its data"
    );
    // Scaled: the service name answers with every replica's address.
    p.ok(&["up", "-d", "--scale", "web=2"]);
    let answer = d.docker_ok(&["exec", "shop_client_1", "nslookup", "web"]);
    let addresses = answer
        .lines()
        .filter(|l| l.starts_with("Address:") && !l.contains("127.0.0.11"))
        .count();
    assert_eq!(addresses, 2, "{answer}");
    p.wait_for_more_pages(fetched);
    // Down with its volumes: no container, network, volume or bridge is left.
    let bridges = d.user_bridges();
    assert_eq!(bridges.len(), 1, "{bridges:?}");
    p.ok(&["down", "-v", "-t", "1"]);
    assert_eq!(d.docker_ok(&["ps", "-aq"]), "");
    let networks = d.docker_ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!networks.contains("shop"), "{networks}");
    let volumes = d.docker_ok(&["volume", "ls", "-q"]);
    assert_eq!(volumes, "");
    let link = Command::new("ip")
        .args(["link", "show", &bridges[0]])
        .output()
        .unwrap();
    assert!(!link.status.success(), "bridge {} is left", bridges[0]);
}

//! Two berthd builds measured in one run, rounds alternated (A B, B A, …) so that a drift of
//! the machine falls on both: the API's create → start → wait → remove, `docker run --rm`,
//! `docker exec`, PSS per sleeping container, idle daemon RSS, and start → first `/_ping`.
//! Medians over the rounds; prints figures, asserts nothing.
//!
//! usage: bench_compare OLD_BERTHD NEW_BERTHD [--rounds N]
//! (each berthd finds its own berth-monitor beside it)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_tests::bench::{
    create_container, median, median_ms, memory_of, ms, request, start_container,
};
use berth_tests::Daemon;

const SLEEPERS: usize = 20;

#[derive(Default)]
struct Figures {
    api_cycle: Vec<f64>,
    cli_run: Vec<f64>,
    cli_exec: Vec<f64>,
    pss_per_container: Vec<f64>,
    idle_rss: Vec<f64>,
    start_to_ping: Vec<f64>,
}

fn api_cycle(socket: &Path) -> f64 {
    let body = br#"{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}"#;
    let t = Instant::now();
    let id = create_container(socket, "v1.18", body);
    start_container(socket, "v1.18", &id);
    assert_eq!(
        request(socket, "POST", &format!("/v1.18/containers/{id}/wait"), b"").0,
        200
    );
    assert_eq!(
        request(socket, "DELETE", &format!("/v1.18/containers/{id}"), b"").0,
        204
    );
    ms(t.elapsed())
}

fn rss_mib(pid: u32) -> f64 {
    berth_tests::bench::rss_kib(pid) as f64 / 1024.0
}

/// One round of every measure on a fresh daemon running `bin`.
fn round(bin: &Path, tar: &[u8], f: &mut Figures) {
    let t = Instant::now();
    let d = Daemon::start_binary(Some(bin), "exec", &["--bridge", "none"]);
    f.start_to_ping.push(ms(t.elapsed()));
    d.import(tar, "busybox:latest");
    std::thread::sleep(Duration::from_millis(500));
    f.idle_rss.push(rss_mib(d.pid()));
    for _ in 0..3 {
        api_cycle(&d.socket);
    }
    f.api_cycle
        .push(median((0..15).map(|_| api_cycle(&d.socket)).collect()));
    f.cli_run.push(median_ms(8, || {
        d.docker_ok(&["run", "--rm", "--network", "none", "busybox", "true"]);
    }));
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "target",
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ]);
    f.cli_exec.push(median_ms(8, || {
        d.docker_ok(&["exec", "target", "true"]);
    }));
    d.docker_ok(&["rm", "-f", "target"]);
    // PSS of the monitors (and the container processes they hold) per sleeping container:
    // the difference between SLEEPERS and none, so the daemon's own share cancels out.
    let (_, before, _) = memory_of(&["berth-monitor"]);
    let body = br#"{"Image":"busybox","Cmd":["sleep","1000"],"HostConfig":{"NetworkMode":"none"}}"#;
    let ids: Vec<String> = (0..SLEEPERS)
        .map(|_| {
            let id = create_container(&d.socket, "v1.18", body);
            start_container(&d.socket, "v1.18", &id);
            id
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));
    let (_, after, _) = memory_of(&["berth-monitor", "sleep"]);
    f.pss_per_container.push((after - before) / SLEEPERS as f64);
    for id in ids {
        request(
            &d.socket,
            "DELETE",
            &format!("/v1.18/containers/{id}?force=1"),
            b"",
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .map_or(5, |n| n.parse().expect("--rounds N"));
    let bins: Vec<PathBuf> = args
        .iter()
        .take_while(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    let [old, new] = &bins[..] else {
        eprintln!("usage: bench_compare OLD_BERTHD NEW_BERTHD [--rounds N]");
        std::process::exit(2);
    };
    let tar = std::fs::read(berth_tests::busybox_tar()).unwrap();
    let (mut a, mut b) = (Figures::default(), Figures::default());
    for r in 0..rounds {
        if r % 2 == 0 {
            round(old, &tar, &mut a);
            round(new, &tar, &mut b);
        } else {
            round(new, &tar, &mut b);
            round(old, &tar, &mut a);
        }
        eprintln!("round {}/{rounds} done", r + 1);
    }
    println!("berthd builds compared, medians of {rounds} alternated rounds");
    println!("  old = {}", old.display());
    println!("  new = {}", new.display());
    println!();
    println!(
        "{:<44} {:>10} {:>10} {:>8}",
        "measure", "old", "new", "new/old"
    );
    let rows: [(&str, &Vec<f64>, &Vec<f64>); 6] = [
        (
            "API create→start→wait→remove (ms)",
            &a.api_cycle,
            &b.api_cycle,
        ),
        ("docker run --rm busybox true (ms)", &a.cli_run, &b.cli_run),
        ("docker exec (ms)", &a.cli_exec, &b.cli_exec),
        (
            "PSS per sleeping container (MiB)",
            &a.pss_per_container,
            &b.pss_per_container,
        ),
        ("idle daemon RSS (MiB)", &a.idle_rss, &b.idle_rss),
        (
            "start → first /_ping (ms)",
            &a.start_to_ping,
            &b.start_to_ping,
        ),
    ];
    for (name, old, new) in rows {
        let (o, n) = (median(old.clone()), median(new.clone()));
        println!("{name:<44} {o:>10.2} {n:>10.2} {:>8.2}", n / o);
    }
}

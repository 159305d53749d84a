//! The modern API's housekeeping with the docker CLI at 1.44: `update`, `system df`, the
//! prune commands, and what berth answers for swarm and plugins.

use berth_tests::{tarball, Daemon};

fn daemon() -> Daemon {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    d
}

/// `docker inspect --format FORMAT NAME`, trimmed.
fn inspect(d: &Daemon, format: &str, name: &str) -> String {
    d.docker_ok(&["inspect", "--format", format, name])
        .trim()
        .to_string()
}

fn cgroup_v1() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

/// An untagged image of its own (`docker image prune` removes it).
fn import_dangling(d: &Daemon, content: &[u8]) -> String {
    let r = d.request(
        "POST",
        "/images/create?fromSrc=-",
        &[("Content-Type", "application/x-tar")],
        &tarball(&[("file", content)]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    r.json_lines().last().unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn update_changes_limits_of_a_running_container() {
    let d = daemon();
    d.docker_ok(&[
        "run", "-d", "--name", "upd", "--memory", "32m", "busybox", "sleep", "1000",
    ]);
    // Docker's rule: above the swap limit in force (twice the memory) the swap must move too.
    let out = d.docker(&["update", "--memory", "100m", "upd"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Memory limit should be smaller than already set memoryswap limit"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    d.docker_ok(&[
        "update",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--cpu-shares",
        "512",
        "--restart",
        "on-failure:3",
        "upd",
    ]);
    let hc = inspect(&d, "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "upd");
    assert_eq!(hc, "67108864 134217728 512 on-failure:3");
    if cgroup_v1() {
        // Live, seen from inside: the cgroup now has the new limits.
        let inside = d.docker_ok(&[
            "exec",
            "upd",
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/cpu/cpu.shares",
        ]);
        assert_eq!(inside, "67108864\n512\n");
        if std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
            let swap = d.docker_ok(&[
                "exec",
                "upd",
                "cat",
                "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
            ]);
            assert_eq!(swap, "134217728\n");
        }
    }
    // A stopped container keeps the new limits for its next start.
    d.docker_ok(&["stop", "-t", "0", "upd"]);
    d.docker_ok(&["update", "--memory", "48m", "upd"]);
    d.docker_ok(&["start", "upd"]);
    if cgroup_v1() {
        let inside = d.docker_ok(&[
            "exec",
            "upd",
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ]);
        assert_eq!(inside.trim(), (48 << 20).to_string());
    }
    assert_eq!(d.past_events("update").len(), 2);
    let missing = d.docker(&["update", "--memory", "64m", "nope"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such container: nope"));
    d.remove_all_containers();
}

#[test]
fn system_df_and_prune() {
    let d = daemon();
    let dangling = import_dangling(&d, b"one");
    d.docker_ok(&[
        "run", "-d", "--name", "up", "--label", "keep=yes", "busybox", "sleep", "1000",
    ]);
    d.docker_ok(&[
        "run",
        "--name",
        "done",
        "busybox",
        "sh",
        "-c",
        "echo data > /file",
    ]);
    d.docker_ok(&[
        "create", "--name", "kept", "--label", "keep=yes", "-v", "/data", "busybox", "true",
    ]);

    let df = d.docker_ok(&[
        "system",
        "df",
        "--format",
        "{{.Type}}={{.TotalCount}}/{{.Active}}",
    ]);
    assert_eq!(
        df.lines().collect::<Vec<_>>(),
        [
            "Images=2/1",
            "Containers=3/1",
            "Local Volumes=1/1",
            "Build Cache=0/0"
        ],
        "{df}"
    );
    let v = d.get("/system/df").json();
    let done = v["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Names"][0] == "/done")
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert!(
        done["SizeRw"].as_i64().unwrap() > 0,
        "the written file counts: {done}"
    );
    assert_eq!(v["Volumes"][0]["UsageData"]["RefCount"], 1, "{v}");

    // Only stopped containers without the label go.
    let out = d.docker_ok(&["container", "prune", "-f", "--filter", "label!=keep"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    let names = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(names, ["kept", "up"]);
    // `until` in the future takes every stopped one.
    d.docker_ok(&["container", "prune", "-f", "--filter", "until=-1h"]);
    assert_eq!(
        d.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "up"
    );

    // Dangling images go; images in use never do.
    let out = d.docker_ok(&["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {dangling}")), "{out}");
    let other = d.import(&tarball(&[("other", b"two")]), "other:1");
    let out = d.docker_ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: other:1"), "{out}");
    assert!(out.contains(&format!("deleted: sha256:{other}")), "{out}");
    let images = d.docker_ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(images.trim(), "busybox");

    // `system prune` also prunes networks and the build cache: both answer.
    let out = d.docker_ok(&["system", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
    let prunes = d.past_events("prune");
    assert!(prunes.len() >= 4, "{prunes:?}");
    assert!(prunes
        .iter()
        .all(|e| e["Actor"]["Attributes"]["reclaimed"].is_string()));
    d.remove_all_containers();
}

#[test]
fn swarm_and_plugins_answer_as_docker_outside_a_swarm() {
    let d = Daemon::start();
    let out = d.docker(&["node", "ls"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("This node is not a swarm manager"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        d.docker_ok(&["plugin", "ls", "--format", "{{.Name}}"])
            .trim(),
        ""
    );
    // `docker inspect` tries every object type, and needs each to miss with a 404.
    let out = d.docker(&["inspect", "nothing"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("No such object: nothing"));
}

#[test]
fn run_init_reaps_and_forwards_signals() {
    let d = daemon();
    // berth's init is PID 1 and the command its child.
    let ps = d.docker_ok(&["run", "--rm", "--init", "busybox", "ps", "-o", "pid,args"]);
    let first = ps.lines().nth(1).unwrap_or_default();
    assert!(
        first.trim_start().starts_with("1 /sbin/docker-init -- ps"),
        "{ps}"
    );
    // Orphans are reaped: no zombie is left once they end.
    let out = d.docker_ok(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "sh -c 'sleep 0.2 &' ; sleep 1; ps -o stat | grep -c '^Z' || true",
    ]);
    assert_eq!(out.trim(), "0", "zombies left: {out}");
    // `docker stop` reaches the command through the init: it ends on SIGTERM (143) instead
    // of being killed after the timeout (137) as a PID 1 without handlers is.
    d.docker_ok(&[
        "run", "-d", "--name", "initd", "--init", "busybox", "sleep", "1000",
    ]);
    d.docker_ok(&["stop", "-t", "30", "initd"]);
    let code = inspect(&d, "{{.State.ExitCode}} {{.HostConfig.Init}}", "initd");
    assert_eq!(code, "143 true");
    // The command's own exit code comes through, and a missing command is 127.
    let out = d.docker(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    let out = d.docker(&["run", "--rm", "--init", "busybox", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127));
    d.remove_all_containers();
}

#[test]
fn stop_timeout_and_signal() {
    let d = daemon();
    // `--stop-timeout` is the container's own grace; `stop --signal` (API 1.42) overrides its
    // stop signal. `sleep` as PID 1 ignores SIGTERM, so only the kill ends it: 137.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "grace",
        "--stop-timeout",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(inspect(&d, "{{.Config.StopTimeout}}", "grace"), "1");
    d.docker_ok(&["stop", "grace"]);
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "grace"), "137");
    // A shell that traps SIGUSR1 exits with its own code when asked with that signal.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "usr1",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 42' USR1; while true; do sleep 0.1; done",
    ]);
    d.docker_ok(&["stop", "--signal", "USR1", "-t", "30", "usr1"]);
    assert_eq!(inspect(&d, "{{.State.ExitCode}}", "usr1"), "42");
    let kills = d.past_events("kill");
    assert!(
        kills
            .iter()
            .any(|e| e["Actor"]["Attributes"]["signal"] == "10"),
        "{kills:?}"
    );
    d.remove_all_containers();
}

#[test]
fn everyday_cli_at_1_44() {
    let d = daemon();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--label",
        "tier=web",
        "busybox",
        "sh",
        "-c",
        "echo early; sleep 2; echo late; sleep 1000",
    ]);
    let gone = d.docker(&["run", "--name", "gone", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(gone.status.code(), Some(3));
    // ps --filter, as scripts use it.
    let names =
        |filter: &str| d.docker_ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    assert_eq!(names("status=exited").trim(), "gone");
    assert_eq!(names("exited=3").trim(), "gone");
    assert_eq!(names("label=tier=web").trim(), "web");
    assert_eq!(names("name=we").trim(), "web");
    assert_eq!(names("ancestor=busybox").lines().count(), 2);
    assert_eq!(
        d.docker_ok(&["ps", "--format", "{{.Names}} {{.State}}"])
            .trim(),
        "web running"
    );
    // exec -w and -e.
    let out = d.docker_ok(&[
        "exec",
        "-w",
        "/tmp",
        "-e",
        "X=1",
        "web",
        "sh",
        "-c",
        "pwd; echo $X",
    ]);
    assert_eq!(out, "/tmp\n1\n");
    // logs --since leaves out what came before.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let all = d.docker_ok(&["logs", "web"]);
    assert_eq!(all, "early\nlate\n");
    let recent = d.docker_ok(&["logs", "--since", "2s", "web"]);
    assert!(!recent.contains("early"), "{recent}");
    let out = d.docker_ok(&["logs", "--tail", "1", "web"]);
    assert_eq!(out, "late\n");
    // stats --no-stream: one sample with a memory figure.
    let stats = d.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
        "web",
    ]);
    assert!(stats.starts_with("web "), "{stats}");
    assert!(!stats.contains("0B / 0B"), "{stats}");
    // inspect of each object type, and of a missing name.
    let ids = d.docker_ok(&["inspect", "--format", "{{.Id}}", "web", "busybox"]);
    let ids: Vec<&str> = ids.lines().collect();
    assert!(
        ids.len() == 2 && ids[0].len() == 64 && ids[1].starts_with("sha256:"),
        "{ids:?}"
    );
    let missing = d.docker(&["inspect", "nothing-here"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such object: nothing-here"));
    d.remove_all_containers();
}

#[test]
fn healthchecks_with_the_cli() {
    use berth_tests::audit::eventually;
    use std::time::Duration;
    let d = daemon();
    let health = |name: &str| inspect(&d, "{{.State.Health.Status}}", name);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(health("hc"), "starting");
    let filtered = |state: &str| {
        d.docker_ok(&[
            "ps",
            "--filter",
            &format!("health={state}"),
            "--format",
            "{{.Names}}",
        ])
        .trim()
        .to_string()
    };
    assert_eq!(filtered("starting"), "hc");
    assert_eq!(filtered("none"), "");
    eventually(
        "unhealthy after two failed probes",
        Duration::from_secs(20),
        || health("hc") == "unhealthy",
    );
    let status = d.docker_ok(&["ps", "--format", "{{.Status}}"]);
    assert!(status.trim().ends_with("(unhealthy)"), "{status}");
    assert_eq!(filtered("unhealthy"), "hc");
    d.docker_ok(&["exec", "hc", "touch", "/tmp/ok"]);
    eventually(
        "healthy once the probe passes",
        Duration::from_secs(20),
        || health("hc") == "healthy",
    );
    let state = d.get("/containers/hc/json").json()["State"]["Health"].clone();
    let log = state["Log"].as_array().unwrap();
    assert!(log.len() >= 3 && log.len() <= 5, "{state}");
    assert_eq!(log.last().unwrap()["ExitCode"], 0, "{state}");
    assert_eq!(log[0]["ExitCode"], 1, "{state}");
    assert_eq!(state["FailingStreak"], 0);
    // Each change of status is an event, and probes run through the exec path.
    let actions: Vec<String> = d
        .past_events("health_status")
        .into_iter()
        .map(|e| e["Action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["health_status: unhealthy", "health_status: healthy"]
    );
    let probes = d.past_events("exec_start");
    assert!(
        probes
            .iter()
            .any(|e| e["Action"] == "exec_start: /bin/sh -c test -f /tmp/ok"),
        "{probes:?}"
    );
    // Probes are not left behind as execs.
    let execs = d.get("/containers/hc/json").json()["ExecIDs"].clone();
    assert!(
        execs.is_null() || execs.as_array().unwrap().len() <= 1,
        "{execs}"
    );

    // A probe that outlives its timeout is killed and counts as a failure.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 5",
        "--health-interval",
        "1s",
        "--health-timeout",
        "500ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    eventually(
        "unhealthy after a probe timed out",
        Duration::from_secs(20),
        || health("slow") == "unhealthy",
    );
    let log = d.get("/containers/slow/json").json()["State"]["Health"]["Log"][0].clone();
    assert_eq!(log["ExitCode"], -1, "{log}");
    assert_eq!(
        log["Output"], "Health check exceeded timeout (500ms)",
        "{log}"
    );

    // A probe's output is what it wrote to stdout and stderr, in the order it wrote it.
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "talky",
        "--health-cmd",
        "echo one; echo two >&2; echo three",
        "--health-interval",
        "1s",
        "busybox",
        "sleep",
        "1000",
    ]);
    eventually("talky probed", Duration::from_secs(20), || {
        health("talky") == "healthy"
    });
    let log = d.get("/containers/talky/json").json()["State"]["Health"]["Log"][0].clone();
    assert_eq!(log["Output"], "one\ntwo\nthree\n", "{log}");

    // No healthcheck: no Health at all.
    d.docker_ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "1000"]);
    let state = d.get("/containers/plain/json").json()["State"].clone();
    assert!(state.get("Health").is_none(), "{state}");
    let bad = d.docker(&[
        "run",
        "--rm",
        "--health-cmd",
        "true",
        "--health-interval",
        "1us",
        "busybox",
        "true",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("Interval in Healthcheck cannot be less than 1ms"));
    d.remove_all_containers();
}

/// `logs --until` and `--details`, `stats` one-shot, and inspect's sizes, on a real daemon.
#[test]
fn logs_until_and_details_stats_one_shot_and_inspect_size() {
    let d = daemon();
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "--label",
        "team=core",
        "--log-opt",
        "labels=team",
        "busybox",
        "sh",
        "-c",
        "echo early; sleep 2; echo late; sleep 1000",
    ]);
    // Wait for the late line, then ask for what came before it.
    let logs = || d.docker_ok(&["logs", "-t", "talker"]);
    while !logs().contains("late") {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let stamped = logs();
    let late_at = stamped
        .lines()
        .find(|l| l.ends_with(" late"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    let late: jiff::Timestamp = late_at.parse().unwrap();
    let before_late = (late - jiff::SignedDuration::from_millis(500)).to_string();
    assert_eq!(
        d.docker_ok(&["logs", "--until", &before_late, "talker"]),
        "early\n"
    );
    // With `--details`, each line carries the attributes its log options name.
    assert_eq!(
        d.docker_ok(&["logs", "--details", "talker"]),
        "team=core early\nteam=core late\n"
    );
    // One sample at once, without a previous one; the plain one-off waits for its pair.
    let one_shot = d.get("/containers/talker/stats?stream=0&one-shot=1").json();
    assert_eq!(one_shot["preread"], "0001-01-01T00:00:00Z");
    assert!(
        one_shot["memory_stats"]["usage"].as_u64().unwrap_or(0) > 0,
        "{one_shot}"
    );
    let paired = d.get("/containers/talker/stats?stream=0").json();
    assert_ne!(paired["preread"], "0001-01-01T00:00:00Z");
    // Sizes only when asked.
    d.docker_ok(&[
        "exec",
        "talker",
        "dd",
        "if=/dev/zero",
        "of=/blob",
        "bs=1024",
        "count=64",
    ]);
    let plain = d.get("/containers/talker/json").json();
    assert!(plain.get("SizeRw").is_none());
    let sized = d.get("/containers/talker/json?size=1").json();
    let rw = sized["SizeRw"].as_i64().unwrap();
    assert!(rw >= 64 * 1024, "{rw}");
    assert!(sized["SizeRootFs"].as_i64().unwrap() > rw);
    assert_eq!(sized["GraphDriver"]["Name"], "overlay2");
    let upper = sized["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert!(std::path::Path::new(upper).join("blob").exists());
    d.docker_ok(&["rm", "-f", "talker"]);
}

/// `docker ps --filter` of the modern API: network, publish, expose, volume, is-task, and
/// since/before given as filters.
#[test]
fn ps_filters_of_the_modern_api() {
    let d = daemon();
    let host = tempfile::tempdir().unwrap();
    let bind = format!("{}:/srv", host.path().display());
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1::80",
        "--expose",
        "443",
        "-v",
        &bind,
        "busybox",
        "sleep",
        "1000",
    ]);
    d.docker_ok(&[
        "run",
        "-d",
        "--name",
        "solo",
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ]);
    let ps = |filter: &str| {
        let out = d.docker_ok(&["ps", "-a", "--format", "{{.Names}}", "--filter", filter]);
        let mut names: Vec<String> = out.lines().map(str::to_string).collect();
        names.sort();
        names.join(",")
    };
    let published = inspect(
        &d,
        "{{(index (index .NetworkSettings.Ports \"80/tcp\") 0).HostPort}}",
        "web",
    );
    assert_eq!(ps(&format!("publish={published}")), "web");
    assert_eq!(ps(&format!("publish={published}/udp")), "");
    assert_eq!(ps("expose=443"), "web");
    assert_eq!(ps("expose=440-450/tcp"), "web");
    assert_eq!(ps("expose=80"), "web");
    assert_eq!(ps("network=none"), "solo");
    assert_eq!(ps("network=bridge"), "web");
    assert_eq!(ps("volume=/srv"), "web");
    assert_eq!(ps(&format!("volume={}", host.path().display())), "web");
    assert_eq!(ps("is-task=true"), "");
    assert_eq!(ps("is-task=false"), "solo,web");
    assert_eq!(ps("since=web"), "solo");
    assert_eq!(ps("before=solo"), "web");
    let bad = d.docker(&["ps", "--filter", "publish=1:2"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("filter for 'publish' should not contain ':'"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    d.docker_ok(&["rm", "-f", "web", "solo"]);
}

/// Events of 1.44 filtered by scope and type; an exec with a terminal of the size asked for,
/// and its inspect.
#[test]
fn event_scope_filter_and_exec_console_size() {
    let d = daemon();
    d.docker_ok(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let events = |filters: &str| {
        d.get(&format!(
            "/events?since=0&until={now}&filters={}",
            form(filters)
        ))
        .json_lines()
    };
    let local = events(r#"{"scope":["local"],"type":["container"]}"#);
    assert!(local.iter().any(|e| e["Action"] == "start"), "{local:?}");
    assert!(local
        .iter()
        .all(|e| e["scope"] == "local" && e["Type"] == "container"));
    assert!(events(r#"{"scope":["swarm"]}"#).is_empty());
    assert!(events(r#"{"daemon":["other"]}"#).is_empty());
    let r = d.get(&format!(
        "/events?until={now}&filters={}",
        form(r#"{"colour":["red"]}"#)
    ));
    assert_eq!(r.status, 400);
    // ConsoleSize at exec create, then over it at start.
    let r = d.post_json(
        "/v1.44/containers/box/exec",
        br#"{"Cmd":["stty","size"],"Tty":true,"AttachStdout":true,"ConsoleSize":[20,70],"DetachKeys":"ctrl-x"}"#,
    );
    let id = r.json()["Id"].as_str().unwrap().to_string();
    let out = d.post_json(&format!("/v1.44/exec/{id}/start"), br#"{"Tty":true}"#);
    assert_eq!(out.text().trim(), "20 70");
    let shown = d.get(&format!("/exec/{id}/json")).json();
    assert_eq!(shown["DetachKeys"], "ctrl-x");
    assert_eq!(shown["CanRemove"], false);
    let r = d.post_json(
        "/v1.44/containers/box/exec",
        br#"{"Cmd":["stty","size"],"Tty":true,"AttachStdout":true,"ConsoleSize":[20,70]}"#,
    );
    let id = r.json()["Id"].as_str().unwrap().to_string();
    let out = d.post_json(
        &format!("/v1.44/exec/{id}/start"),
        br#"{"Tty":true,"ConsoleSize":[33,99]}"#,
    );
    assert_eq!(out.text().trim(), "33 99");
    d.docker_ok(&["rm", "-f", "box"]);
}

fn form(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

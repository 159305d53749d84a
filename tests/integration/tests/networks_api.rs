//! The predefined networks with `docker network ls/inspect/rm`: listed with stable IDs and the
//! bridge's address plan, running containers in inspect, Docker's refusals.

use berth_tests::Daemon;

#[test]
fn the_predefined_networks_are_listed_and_inspected() {
    let d = Daemon::start();
    d.import_busybox("busybox:latest");
    let ls = d.docker_ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]);
    assert_eq!(
        ls,
        "bridge bridge local\nhost host local\nnone null local\n"
    );
    let id = d.docker_ok(&["run", "-d", "busybox", "sleep", "30"]);
    let id = id.trim();
    let inspect = d.get("/v1.44/networks/bridge").json();
    let prefix = d.subnet_prefix();
    assert_eq!(inspect["Name"], "bridge");
    assert_eq!(
        inspect["IPAM"]["Config"][0]["Gateway"],
        format!("{prefix}1")
    );
    assert_eq!(
        inspect["IPAM"]["Config"][0]["Subnet"],
        format!("{prefix}0/24")
    );
    assert_eq!(
        inspect["Options"]["com.docker.network.bridge.name"],
        d.bridge()
    );
    let member = &inspect["Containers"][id];
    assert!(
        member["IPv4Address"].as_str().unwrap().starts_with(&prefix),
        "{inspect}"
    );
    // The network the container reports is the one listed, by ID too.
    let net_id = inspect["Id"].as_str().unwrap();
    assert_eq!(
        d.get(&format!("/v1.44/networks/{}", &net_id[..12])).json()["Name"],
        "bridge"
    );
    let cinspect = d.get(&format!("/v1.44/containers/{id}/json")).json();
    assert_eq!(
        cinspect["NetworkSettings"]["Networks"]["bridge"]["NetworkID"],
        net_id
    );
    // Docker's refusals.
    let out = d.docker(&["network", "rm", "bridge"]);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("bridge is a pre-defined network and cannot be removed"));
    let out = d.docker(&["network", "inspect", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("network nope not found"));
    d.remove_all_containers();
}

//! The worker refuses to start when the firewall rule that keeps function containers away from
//! the host's own services cannot be installed, unless told to accept that risk. Runs the real
//! binary against real Docker with `iptables` out of reach (a `PATH` without it).
//!
//! Runs when `CANOPY_DOCKER_TESTS=1` (the project's test script sets it).

use std::process::Command;

fn run_without_iptables(extra: &[&str]) -> std::process::Output {
    let empty = tempfile::tempdir().expect("dir");
    let cache = tempfile::tempdir().expect("cache");
    Command::new(env!("CARGO_BIN_EXE_canopy-worker"))
        .arg("--config")
        .arg(empty.path().join("no-such-worker.toml"))
        .arg("run")
        .args(["--dispatcher", "http://127.0.0.1:9", "--node-id"])
        .arg(uuid::Uuid::new_v4().simple().to_string())
        .arg("--cache-dir")
        .arg(cache.path())
        .args(extra)
        .env("CANOPY_WORKER_NODE_TOKEN", "cnode_test")
        .env("PATH", empty.path())
        .env("RUST_LOG", "warn")
        .output()
        .expect("canopy-worker runs")
}

#[test]
fn without_the_firewall_rule_the_worker_refuses_to_start_and_says_how_to_fix_it() {
    if std::env::var("CANOPY_DOCKER_TESTS").as_deref() != Ok("1") {
        eprintln!("note: real-Docker tests skipped; set CANOPY_DOCKER_TESTS=1 to run them");
        return;
    }
    let refused = run_without_iptables(&[]);
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr).into_owned()
        + &String::from_utf8_lossy(&refused.stdout);
    assert!(text.contains("--allow-host-access"), "{text}");
    assert!(
        text.contains("iptables -I"),
        "the manual fix is named: {text}"
    );
}

//! The `canopy-worker` binary's own commands: `--version` and `install-service`.

use std::process::Command;

fn worker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_canopy-worker"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_prints_the_version_and_the_git_commit() {
    let output = worker().arg("--version").output().expect("runs");
    assert!(output.status.success());
    assert_eq!(
        text(&output.stdout).trim(),
        format!(
            "canopy-worker {} (commit {})",
            env!("CARGO_PKG_VERSION"),
            canopy_version::COMMIT
        )
    );
    // Built from a git checkout without an override, the commit is the checkout's.
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let (Ok(head), None) = (head, std::env::var_os("CANOPY_GIT_COMMIT")) {
        if head.status.success() {
            assert_eq!(canopy_version::COMMIT, text(&head.stdout).trim());
        }
    }
}

#[test]
fn install_service_print_writes_a_unit_systemd_accepts() {
    let output = worker()
        .args(["install-service", "--print", "--user", "root"])
        .output()
        .expect("runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let unit = text(&output.stdout);
    assert!(unit.contains("\nRestart=on-failure\n"), "{unit}");
    assert!(unit.contains("\nUser=root\n"), "{unit}");
    assert!(
        unit.contains(&format!(
            "ExecStart={} --config ",
            env!("CARGO_BIN_EXE_canopy-worker")
        )),
        "{unit}"
    );

    let verify = Command::new("systemd-analyze").arg("--version").output();
    if !verify.is_ok_and(|output| output.status.success()) {
        eprintln!("note: systemd-analyze is not installed; the unit's syntax is not verified");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("canopy-worker.service");
    std::fs::write(&file, &unit).expect("unit");
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .expect("systemd-analyze runs");
    let report = text(&verified.stderr) + &text(&verified.stdout);
    assert!(verified.status.success(), "{report}");
    // systemd only warns about unknown keys and bad values; any such line is a broken unit.
    for line in report.lines() {
        assert!(
            !line.contains("ignoring") && !line.contains("Unknown") && !line.contains("Failed"),
            "{report}"
        );
    }
}

#[test]
fn install_service_without_root_refuses_and_says_how() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            line.split_whitespace().nth(2)?.parse::<u32>().ok()
        });
    let dir = tempfile::tempdir().expect("dir");
    let unit_file = dir.path().join("canopy-worker.service");
    let mut command = if uid == Some(0) {
        // Drop to nobody for this one run.
        let mut setpriv = Command::new("setpriv");
        setpriv.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        setpriv.arg(env!("CARGO_BIN_EXE_canopy-worker"));
        setpriv
    } else {
        worker()
    };
    let output = command
        .args(["install-service", "--user", "root", "--unit-file"])
        .arg(&unit_file)
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("needs root"), "{stderr}");
    assert!(stderr.contains("--print"), "{stderr}");
    assert!(!unit_file.exists());
}

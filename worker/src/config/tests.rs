use std::os::unix::fs::PermissionsExt;

use clap::Parser;

use super::*;
use crate::cli::{Cli, Command};

const HOST: HostFacts = HostFacts {
    cpus: 4,
    total_memory_mb: 10_000,
};

fn run_overrides(args: &[&str]) -> Overrides {
    let mut argv = vec!["canopy-worker", "run"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv).map(|cli| cli.command) {
        Ok(Command::Run(overrides)) => overrides,
        other => panic!("unexpected parse: {other:?}"),
    }
}

fn file(text: &str) -> FileConfig {
    toml::from_str(text).expect("valid test file")
}

#[test]
fn defaults_come_from_the_host_and_the_contract() {
    let config = WorkerConfig::resolve(
        "w.toml".into(),
        FileConfig::default(),
        &Overrides::default(),
        HOST,
    )
    .expect("valid");
    assert_eq!(config.cpus, 4);
    assert_eq!(config.max_concurrency, 4);
    assert_eq!(config.memory_mb, 8_000);
    assert!(!config.allow_privileged && !config.allow_egress && !config.allow_host_access);
    assert!(
        !config.allow_custom_images,
        "custom images are off by default"
    );
    assert_eq!(config.idle_expiry, Duration::from_secs(300));
    assert_eq!(config.shutdown_grace, Duration::from_secs(30));
    assert_eq!(config.runtime_images[&Lang::Py], "canopy-runtime-python:1");
    assert_eq!(config.runtime_images[&Lang::Js], "canopy-runtime-node:1");
    assert_eq!(config.runtime_images[&Lang::Go], "canopy-runtime-go:1");
    assert_eq!(config.runtime_images[&Lang::Cs], "canopy-runtime-csharp:1");
    assert_eq!(config.runtime_images[&Lang::Rb], "canopy-runtime-ruby:1");
    assert_eq!(config.runtime_images[&Lang::Rs], "canopy-runtime-rust:1");
    assert!(config.cache_dir.ends_with("canopy-worker"));
    assert_eq!(config.executor, ExecutorKind::Docker);
    assert_eq!(config.noop_delay, Duration::ZERO);
}

#[test]
fn the_executor_and_noop_delay_come_from_file_env_or_flags() {
    let from_file = file("executor = \"noop\"\nnoop_delay_ms = 25");
    let config =
        WorkerConfig::resolve("w".into(), from_file, &Overrides::default(), HOST).expect("valid");
    assert_eq!(
        (config.executor, config.noop_delay),
        (ExecutorKind::Noop, Duration::from_millis(25))
    );
    let flags = run_overrides(&["--executor", "noop", "--noop-delay-ms", "7"]);
    let config = WorkerConfig::resolve("w".into(), file("executor = \"docker\""), &flags, HOST)
        .expect("valid");
    assert_eq!(
        (config.executor, config.noop_delay),
        (ExecutorKind::Noop, Duration::from_millis(7))
    );
    assert!(toml::from_str::<FileConfig>("executor = \"podman\"").is_err());
    let mut argv = vec!["canopy-worker", "run", "--executor", "podman"];
    assert!(Cli::try_parse_from(&argv).is_err());
    argv.truncate(2);
    argv.extend(["--log-format", "json"]);
    let cli = Cli::try_parse_from(&argv).expect("parses");
    assert_eq!(cli.log_format, crate::cli::LogFormat::Json);
}

#[test]
fn file_is_overridden_by_env_which_is_overridden_by_flags() {
    let file = file(
        r#"
        dispatchers = ["http://file:1"]
        description = "from file"
        max_concurrency = 1
        cpus = 1
        memory_mb = 100
        idle_expiry_secs = 7
        node_token = "file-token"
        [runtime_images]
        PY = "file-python"
        "#,
    );
    // Only this test touches these variables (nextest runs each test in its own process).
    std::env::set_var("CANOPY_WORKER_DESCRIPTION", "from env");
    std::env::set_var("CANOPY_WORKER_MAX_CONCURRENCY", "2");
    std::env::set_var("CANOPY_WORKER_CPUS", "2");
    std::env::set_var("CANOPY_WORKER_DISPATCHERS", "ws://env-a:2,https://env-b/");
    let flags = run_overrides(&[
        "--max-concurrency",
        "3",
        "--allow-egress",
        "--allow-custom-images",
        "--runtime-image",
        "py=flag-python",
    ]);
    for name in [
        "CANOPY_WORKER_DESCRIPTION",
        "CANOPY_WORKER_MAX_CONCURRENCY",
        "CANOPY_WORKER_CPUS",
        "CANOPY_WORKER_DISPATCHERS",
    ] {
        std::env::remove_var(name);
    }
    let config = WorkerConfig::resolve("w.toml".into(), file, &flags, HOST).expect("valid");
    assert_eq!(config.max_concurrency, 3, "flag beats env and file");
    assert_eq!(config.cpus, 2, "env beats file");
    assert_eq!(config.description, "from env");
    assert_eq!(config.memory_mb, 100, "file beats defaults");
    assert_eq!(config.idle_expiry, Duration::from_secs(7));
    assert!(config.allow_egress);
    assert!(config.allow_custom_images);
    assert_eq!(config.dispatchers, ["http://env-a:2", "https://env-b"]);
    assert_eq!(config.runtime_images[&Lang::Py], "flag-python");
    assert_eq!(
        config.node_token.as_ref().map(Secret::expose),
        Some("file-token")
    );
    assert!(
        !format!("{config:?}").contains("file-token"),
        "the token never prints"
    );
}

#[test]
fn unknown_keys_and_bad_urls_are_refused() {
    let error = toml::from_str::<FileConfig>("max_concurency = 2").expect_err("typo refused");
    assert!(error.to_string().contains("max_concurency"));
    let flags = run_overrides(&["--dispatcher", "ftp://x"]);
    assert!(WorkerConfig::resolve("w".into(), FileConfig::default(), &flags, HOST).is_err());
    let flags = run_overrides(&["--runtime-image", "COBOL=x"]);
    assert!(WorkerConfig::resolve("w".into(), FileConfig::default(), &flags, HOST).is_err());
}

#[test]
fn connect_url_follows_the_scheme() {
    assert_eq!(
        connect_url("http://h:8080"),
        "ws://h:8080/v1/worker/connect"
    );
    assert_eq!(connect_url("https://h"), "wss://h/v1/worker/connect");
}

fn registration(node_id: &str) -> Registration {
    Registration {
        dispatcher: "http://d:1".into(),
        node_id: node_id.into(),
        node_token: Secret::new("tok"),
        description: Some("laptop".into()),
    }
}

#[test]
fn registration_is_written_0600_and_keeps_other_settings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested/canopy/worker.toml");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
    std::fs::write(&path, "memory_mb = 512\n").expect("seed file");
    write_registration(&path, &registration("n1"), false).expect("written");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let stored = FileConfig::read(&path).expect("readable");
    assert_eq!(stored.node_id.as_deref(), Some("n1"));
    assert_eq!(stored.node_token.as_ref().map(Secret::expose), Some("tok"));
    assert_eq!(stored.memory_mb, Some(512));
    assert_eq!(stored.dispatchers, Some(vec!["http://d:1".to_owned()]));
}

#[test]
fn registration_creates_parent_dirs_and_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a/b/worker.toml");
    write_registration(&path, &registration("n1"), false).expect("written");
    let error = write_registration(&path, &registration("n2"), false).expect_err("refused");
    assert!(matches!(error, ConfigError::AlreadyRegistered { ref node_id, .. } if node_id == "n1"));
    write_registration(&path, &registration("n2"), true).expect("forced");
    assert_eq!(
        FileConfig::read(&path).expect("read").node_id.as_deref(),
        Some("n2")
    );
}

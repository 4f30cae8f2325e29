use super::*;

fn args(print: bool, unit_file: PathBuf) -> InstallServiceArgs {
    InstallServiceArgs {
        print,
        user: Some("root".into()),
        unit_file,
        binary: Some("/usr/local/bin/canopy-worker".into()),
    }
}

#[test]
fn passwd_lines_give_the_account_of_that_name_only() {
    let line = "ada:x:1000:1000:Ada,,,:/home/ada:/bin/bash";
    assert_eq!(
        parse_passwd_line(line, "ada"),
        Some(Account {
            name: "ada".into(),
            uid: 1000,
            home: "/home/ada".into()
        })
    );
    assert_eq!(parse_passwd_line(line, "ad"), None);
    assert_eq!(parse_passwd_line("broken:x", "broken"), None);
}

#[test]
fn the_effective_uid_is_the_second_uid_column() {
    let status = "Name:\tcanopy-worker\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
    assert_eq!(parse_effective_uid(status), Some(0));
    assert!(effective_uid().is_some());
}

#[test]
fn without_root_the_unit_is_refused_with_the_way_out_but_print_still_works() {
    let dir = tempfile::tempdir().expect("dir");
    let unit_file = dir.path().join("canopy-worker.service");
    let refused = install(&args(false, unit_file.clone()), None, 1000).expect_err("refused");
    assert!(matches!(refused, ServiceError::NotRoot { .. }));
    assert!(refused
        .to_string()
        .contains("sudo canopy-worker install-service"));
    assert!(refused.to_string().contains("--print"));
    assert!(!unit_file.exists());

    match install(&args(true, unit_file.clone()), None, 1000).expect("printed") {
        Outcome::Printed(text) => assert!(text.contains("User=root\n"), "{text}"),
        other => panic!("expected the unit on stdout, got {other:?}"),
    }
    assert!(!unit_file.exists());
}

#[test]
fn as_root_the_unit_is_written_with_the_config_of_the_user_and_a_warning_when_unregistered() {
    let dir = tempfile::tempdir().expect("dir");
    let unit_file = dir.path().join("canopy-worker.service");
    let config = dir.path().join("worker.toml");
    let outcome = install(&args(false, unit_file.clone()), Some(&config), 0).expect("written");
    let Outcome::Written { path, warning, .. } = outcome else {
        panic!("expected a written unit");
    };
    assert_eq!(path, unit_file);
    let text = std::fs::read_to_string(&unit_file).expect("unit");
    assert!(
        text.contains(&format!("--config {} run", config.display())),
        "{text}"
    );
    assert!(warning.expect("a warning").contains("no registration"));

    std::fs::write(&config, "node_id = \"n1\"\nnode_token = \"cnode_x\"\n").expect("config");
    let outcome = install(&args(false, unit_file), Some(&config), 0).expect("written");
    assert!(matches!(outcome, Outcome::Written { warning: None, .. }));
}

#[test]
fn bad_users_and_relative_paths_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let mut bad = args(true, dir.path().join("u"));
    bad.user = Some("ada\nExecStartPre=/bin/sh".into());
    assert!(matches!(
        install(&bad, None, 0),
        Err(ServiceError::InvalidUser(_))
    ));
    bad.user = Some("no-such-user-canopy".into());
    assert!(matches!(
        install(&bad, None, 0),
        Err(ServiceError::UnknownUser(_))
    ));
    let relative = args(true, dir.path().join("u"));
    let error = install(&relative, Some(Path::new("worker.toml")), 0).expect_err("relative");
    assert!(
        matches!(
            error,
            ServiceError::InvalidPath {
                what: "--config",
                ..
            }
        ),
        "{error}"
    );
}

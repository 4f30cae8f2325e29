//! The systemd unit of the worker: restart on failure, and a sandbox that leaves the process
//! what it needs (the Docker socket, its cache, CAP_NET_ADMIN for the firewall rule) and little
//! else. Docker access stays root-equivalent on the host whatever the sandbox says; the unit's
//! comments say so where the operator reads them.

use std::path::PathBuf;

/// What the unit is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitOptions {
    /// The `canopy-worker` binary, absolute.
    pub binary: PathBuf,
    /// The settings file holding the registration, absolute.
    pub config: PathBuf,
    /// The account the worker runs as.
    pub user: String,
    /// A group that may use the Docker socket (`docker`), when the host has one and the user is
    /// not root.
    pub docker_group: Option<String>,
    /// The version line of the binary that wrote the unit.
    pub version: String,
}

/// Where the service's cache lives: systemd creates it for the user (`CacheDirectory=`).
pub const CACHE_DIR: &str = "/var/cache/canopy-worker";

/// Seconds systemd waits after SIGTERM: the worker's default 30 s shutdown grace plus room to
/// hand back tasks and say goodbye.
const STOP_TIMEOUT_S: u32 = 60;

/// The unit file's text.
pub fn render(options: &UnitOptions) -> String {
    let exec_start = [
        quote(&options.binary.to_string_lossy()),
        "--config".to_owned(),
        quote(&options.config.to_string_lossy()),
        "run".to_owned(),
        "--cache-dir".to_owned(),
        CACHE_DIR.to_owned(),
    ]
    .join(" ");
    let groups = match &options.docker_group {
        Some(group) => format!("SupplementaryGroups={group}\n"),
        None => String::new(),
    };
    format!(
        "# Written by `canopy-worker install-service` (canopy-worker {version}).
# Access to the Docker socket is root on this host: whoever controls this worker's process can
# start any container. The sandbox below narrows what the process itself may do; the functions
# it runs are confined by their own containers (docs/security.md, docs/volunteer.md).
[Unit]
Description=Canopy worker: runs Canopy functions in locked-down containers
Wants=network-online.target docker.service
After=network-online.target docker.service

[Service]
Type=exec
User={user}
{groups}Environment=RUST_LOG=info
ExecStart={exec_start}
Restart=on-failure
RestartSec=5s
# SIGTERM to the worker only: it stops pulling, lets running tasks finish and hands the rest back.
KillMode=mixed
TimeoutStopSec={STOP_TIMEOUT_S}s
CacheDirectory=canopy-worker
# The worker checks and adds the iptables rule that keeps function containers away from this
# host's services; nothing else needs privileges.
CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW
AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW
NoNewPrivileges=yes
# Read-only system and homes (the settings file may live in one); connecting to the Docker
# socket still works on a read-only mount.
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK

[Install]
WantedBy=multi-user.target
",
        version = options.version,
        user = options.user,
    )
}

/// One ExecStart word: quoted when it holds spaces or quotes, `%` doubled (systemd expands
/// `%x` specifiers even inside quotes).
fn quote(word: &str) -> String {
    let word = word.replace('%', "%%");
    if word
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> UnitOptions {
        UnitOptions {
            binary: "/usr/local/bin/canopy-worker".into(),
            config: "/home/ada/.config/canopy/worker.toml".into(),
            user: "ada".into(),
            docker_group: Some("docker".into()),
            version: "0.1.0 (commit abc1234)".into(),
        }
    }

    fn directive<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
        unit.lines()
            .filter_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .collect()
    }

    #[test]
    fn the_unit_runs_the_registered_worker_as_the_user_and_restarts_it_on_failure() {
        let unit = render(&options());
        assert_eq!(
            directive(&unit, "ExecStart"),
            ["/usr/local/bin/canopy-worker --config /home/ada/.config/canopy/worker.toml run --cache-dir /var/cache/canopy-worker"]
        );
        assert_eq!(directive(&unit, "User"), ["ada"]);
        assert_eq!(directive(&unit, "SupplementaryGroups"), ["docker"]);
        assert_eq!(directive(&unit, "Restart"), ["on-failure"]);
        assert_eq!(directive(&unit, "CacheDirectory"), ["canopy-worker"]);
        assert_eq!(directive(&unit, "WantedBy"), ["multi-user.target"]);
        assert!(directive(&unit, "After")[0].contains("docker.service"));
        assert!(unit.starts_with(
            "# Written by `canopy-worker install-service` (canopy-worker 0.1.0 (commit abc1234))."
        ));
    }

    #[test]
    fn the_sandbox_is_tight_but_leaves_the_docker_socket_and_the_firewall_rule_reachable() {
        let unit = render(&options());
        for (key, value) in [
            ("NoNewPrivileges", "yes"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "read-only"),
            ("PrivateTmp", "yes"),
            ("PrivateDevices", "yes"),
            ("RestrictNamespaces", "yes"),
            ("MemoryDenyWriteExecute", "yes"),
            ("CapabilityBoundingSet", "CAP_NET_ADMIN CAP_NET_RAW"),
            ("AmbientCapabilities", "CAP_NET_ADMIN CAP_NET_RAW"),
        ] {
            assert_eq!(directive(&unit, key), [value], "{key}");
        }
        // The Docker API is a Unix socket; iptables speaks netlink.
        let families = directive(&unit, "RestrictAddressFamilies")[0];
        assert!(families.contains("AF_UNIX") && families.contains("AF_NETLINK"));
        // Code folders must stay readable by the containers' user: no restrictive UMask, and
        // no private /var/cache (the host's Docker daemon bind-mounts from it).
        assert!(directive(&unit, "UMask").is_empty());
        assert!(directive(&unit, "ReadOnlyPaths").is_empty());
        // The worker's own shutdown grace fits in systemd's stop timeout.
        assert_eq!(directive(&unit, "KillMode"), ["mixed"]);
        assert_eq!(directive(&unit, "TimeoutStopSec"), ["60s"]);
    }

    #[test]
    fn root_gets_no_supplementary_group() {
        let unit = render(&UnitOptions {
            user: "root".into(),
            docker_group: None,
            ..options()
        });
        assert!(directive(&unit, "SupplementaryGroups").is_empty());
        assert_eq!(directive(&unit, "User"), ["root"]);
    }

    #[test]
    fn paths_with_spaces_and_percent_signs_are_quoted_and_escaped() {
        let unit = render(&UnitOptions {
            config: "/srv/my configs/100%/worker.toml".into(),
            ..options()
        });
        assert!(
            directive(&unit, "ExecStart")[0]
                .contains(r#"--config "/srv/my configs/100%%/worker.toml" run"#),
            "{unit}"
        );
        assert_eq!(quote(r#"a"b"#), r#""a\"b""#);
        assert_eq!(quote("plain"), "plain");
    }
}

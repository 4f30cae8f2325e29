//! The real [`ContainerEngine`]: Docker through bollard, with the sandbox of ARCHITECTURE §6.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use bollard::errors::Error as DockerError;
use bollard::models::{ContainerCreateBody, ContainerUpdateBody, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions,
};
use bollard::Docker;

use super::engine::{ContainerEngine, ContainerSpec, EngineError, Exit, RUNNER_PORT};
use super::firewall::BRIDGE_NAME;

/// Name of the private network function containers join: an `internal` bridge (no route out)
/// with inter-container traffic off, on the fixed bridge [`BRIDGE_NAME`] that the host firewall
/// rule matches. The host still reaches each container on its bridge IP (contract, "Networking
/// (verified)").
pub const ISOLATED_NETWORK: &str = "canopy-net";

/// Docker, reached over its API socket.
#[derive(Debug, Clone)]
pub struct DockerEngine {
    docker: Docker,
    /// Parent cgroup of every container (the volunteer's caps are set on it).
    cgroup_parent: Option<String>,
}

impl DockerEngine {
    /// Connects to `host` (`unix://…`, `tcp://…`, `http://…`), or to `DOCKER_HOST` / the local
    /// socket when `None`, and agrees on an API version the daemon supports.
    pub async fn connect(host: Option<&str>) -> Result<Self, EngineError> {
        let docker = match host {
            Some(host) => Docker::connect_with_host(host),
            None => Docker::connect_with_defaults(),
        }
        .map_err(|e| EngineError::new("connect to docker", e))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| EngineError::new("connect to docker", e))?;
        Ok(DockerEngine {
            docker,
            cgroup_parent: None,
        })
    }

    /// Creates every container under this parent cgroup (Docker's `--cgroup-parent`).
    pub fn with_cgroup_parent(mut self, parent: String) -> Self {
        self.cgroup_parent = Some(parent);
        self
    }

    /// The daemon's cgroup driver (`cgroupfs` or `systemd`).
    pub async fn cgroup_driver(&self) -> Result<String, EngineError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| EngineError::new("docker info", e))?;
        Ok(info
            .cgroup_driver
            .map(|driver| driver.to_string())
            .unwrap_or_else(|| "cgroupfs".to_owned()))
    }

    /// Names of the OCI runtimes the daemon offers (e.g. `runc`, `runsc`).
    pub async fn runtimes(&self) -> Result<Vec<String>, EngineError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| EngineError::new("docker info", e))?;
        Ok(info.runtimes.unwrap_or_default().into_keys().collect())
    }

    /// Creates the isolated network unless it exists.
    pub async fn ensure_isolated_network(&self) -> Result<(), EngineError> {
        if self
            .docker
            .inspect_network(ISOLATED_NETWORK, None)
            .await
            .is_ok()
        {
            return Ok(());
        }
        let request = NetworkCreateRequest {
            name: ISOLATED_NETWORK.to_owned(),
            driver: Some("bridge".to_owned()),
            internal: Some(true),
            options: Some(HashMap::from([
                (
                    "com.docker.network.bridge.enable_icc".to_owned(),
                    "false".to_owned(),
                ),
                (
                    "com.docker.network.bridge.name".to_owned(),
                    BRIDGE_NAME.to_owned(),
                ),
            ])),
            labels: Some(HashMap::from([(
                "canopy.network".to_owned(),
                "isolated".to_owned(),
            )])),
            ..Default::default()
        };
        match self.docker.create_network(request).await {
            Ok(_) => Ok(()),
            // Another worker on this host created it meanwhile.
            Err(DockerError::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::new("create network", e)),
        }
    }
}

/// What a `privileged` function gets (its account approved by an admin): root inside the
/// container with Docker's default capability set, but never `--privileged` — seccomp, a
/// read-only root, no-new-privileges and every limit stay (docs/security.md).
const PRIVILEGED_CAPABILITIES: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SYS_CHROOT",
    "MKNOD",
    "AUDIT_WRITE",
    "SETFCAP",
];

/// The hardened container body for `spec`.
pub fn container_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let (user, cap_add) = if spec.privileged {
        let caps = PRIVILEGED_CAPABILITIES.map(str::to_owned).to_vec();
        ("0:0", Some(caps))
    } else {
        ("65534:65534", None)
    };
    let mut binds = vec![format!("{}:/app:ro", spec.code_dir.display())];
    let mut network = spec.network.clone();
    let mut tmp_size = "64m";
    let mut cmd = None;
    if let Some(out) = &spec.compile_out {
        binds.push(format!("{}:/out:rw", out.display()));
        // A compile needs nothing from outside: no network, not even the private one.
        network = "none".to_owned();
        // Room for the Go build cache and rustc's temporaries.
        tmp_size = "512m";
        cmd = Some(
            ["/bin/sh", "/opt/canopy/start.sh", "--compile", "/out"]
                .map(str::to_owned)
                .to_vec(),
        );
    }
    let host_config = HostConfig {
        binds: Some(binds),
        memory: Some(spec.memory_bytes()),
        memory_swap: Some(spec.memory_bytes()),
        nano_cpus: Some(spec.nano_cpus()),
        pids_limit: Some(spec.pids_limit),
        cap_drop: Some(vec!["ALL".to_owned()]),
        cap_add,
        security_opt: Some(vec!["no-new-privileges".to_owned()]),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([(
            "/tmp".to_owned(),
            if spec.tmp_exec {
                format!("rw,exec,size={tmp_size}")
            } else {
                format!("rw,size={tmp_size}")
            },
        )])),
        network_mode: Some(network),
        privileged: Some(false),
        runtime: spec.runtime.clone(),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        user: Some(user.to_owned()),
        env: Some(
            std::iter::once(format!("PORT={RUNNER_PORT}"))
                .chain(spec.env.iter().cloned())
                .collect(),
        ),
        labels: Some(spec.labels.clone()),
        cmd,
        host_config: Some(host_config),
        ..Default::default()
    }
}

fn is_not_found(error: &DockerError) -> bool {
    matches!(
        error,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl ContainerEngine for DockerEngine {
    async fn create(&self, spec: &ContainerSpec) -> Result<String, EngineError> {
        let mut body = container_body(spec);
        if let (Some(host), Some(parent)) = (body.host_config.as_mut(), &self.cgroup_parent) {
            host.cgroup_parent = Some(parent.clone());
        }
        let response = self
            .docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| EngineError::new("create container", e))?;
        Ok(response.id)
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(|e| EngineError::new("start container", e))
    }

    async fn address(&self, id: &str) -> Result<SocketAddr, EngineError> {
        let info = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| EngineError::new("inspect container", e))?;
        let ip = info
            .network_settings
            .and_then(|settings| settings.networks)
            .and_then(|networks| {
                networks
                    .into_values()
                    .filter_map(|endpoint| endpoint.ip_address)
                    .find(|ip| !ip.is_empty())
            })
            .ok_or_else(|| EngineError::new("inspect container", "the container has no IP"))?;
        let ip: IpAddr = ip
            .parse()
            .map_err(|e| EngineError::new("inspect container", format!("bad IP {ip}: {e}")))?;
        Ok(SocketAddr::new(ip, RUNNER_PORT))
    }

    async fn exit(&self, id: &str) -> Result<Option<Exit>, EngineError> {
        let info = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| EngineError::new("inspect container", e))?;
        let state = info.state.unwrap_or_default();
        if state.running.unwrap_or(false) {
            return Ok(None);
        }
        Ok(Some(Exit {
            oom_killed: state.oom_killed.unwrap_or(false),
            code: state.exit_code.unwrap_or(-1),
        }))
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            link: false,
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // Removal already under way (e.g. the janitor and a kill raced).
            Err(DockerError::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(EngineError::new("remove container", e)),
        }
    }

    async fn list_by_label(&self, key: &str, value: &str) -> Result<Vec<String>, EngineError> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "label".to_owned(),
                vec![format!("{key}={value}")],
            )])),
            ..Default::default()
        };
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| EngineError::new("list containers", e))?;
        Ok(containers.into_iter().filter_map(|c| c.id).collect())
    }

    async fn update_limits(&self, id: &str, memory_mb: u32, cpus: u32) -> Result<(), EngineError> {
        let memory = i64::from(memory_mb) * 1024 * 1024;
        let body = ContainerUpdateBody {
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some(i64::from(cpus) * 1_000_000_000),
            ..Default::default()
        };
        self.docker
            .update_container(id, body)
            .await
            .map_err(|e| EngineError::new("update container", e))
    }

    async fn pause(&self, id: &str) -> Result<(), EngineError> {
        self.docker
            .pause_container(id)
            .await
            .map_err(|e| EngineError::new("pause container", e))
    }

    async fn unpause(&self, id: &str) -> Result<(), EngineError> {
        self.docker
            .unpause_container(id)
            .await
            .map_err(|e| EngineError::new("unpause container", e))
    }

    async fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(info) => Ok(info.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(EngineError::new("inspect image", e)),
        }
    }

    async fn pull(&self, image: &str) -> Result<(), EngineError> {
        use futures_util::TryStreamExt;
        let options = bollard::query_parameters::CreateImageOptions {
            from_image: Some(image.to_owned()),
            ..Default::default()
        };
        // A registry that cannot be reached fails within Docker's own dial timeout.
        self.docker
            .create_image(Some(options), None, None)
            .try_for_each(|_| async { Ok(()) })
            .await
            .map_err(|e| EngineError::new("pull image", e))
    }

    async fn image_exists(&self, image: &str) -> Result<bool, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(EngineError::new("inspect image", e)),
        }
    }
}

//! The parent cgroup of every task container: Docker puts each container under it
//! (`HostConfig.cgroup_parent`), and the worker sets the volunteer's CPU and memory caps on it,
//! so the kernel enforces them over all containers together. It is also where each
//! container's CPU time is read. Both cgroup v1 and v2 are supported, with Docker's
//! `cgroupfs` driver (files written here) or its `systemd` driver (a slice whose properties
//! `systemctl` sets).

use std::path::{Path, PathBuf};
use std::process::Command;

/// CFS period the CPU cap is expressed in, microseconds.
const PERIOD_US: u64 = 100_000;

/// cgroup v1 (one hierarchy per controller) or v2 (the unified hierarchy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// How Docker manages cgroups (`docker info`'s `CgroupDriver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    Cgroupfs,
    Systemd,
}

/// Why a cap cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot write {path}: {source} (the worker must run as root, or own the cgroup)")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("systemctl set-property {slice} failed: {message}")]
    Systemd { slice: String, message: String },
}

/// The caps over all task containers together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    /// Percent of the host's CPUs.
    pub cpu_percent: Option<u32>,
    pub host_cpus: u32,
    pub memory_mb: Option<u32>,
}

impl Caps {
    /// The CFS quota per [`PERIOD_US`] of the CPU cap.
    pub fn quota_us(&self) -> Option<u64> {
        self.cpu_percent
            .map(|percent| u64::from(percent) * u64::from(self.host_cpus.max(1)) * PERIOD_US / 100)
    }
}

/// The task containers' parent cgroup of this worker.
#[derive(Debug, Clone)]
pub struct TaskCgroup {
    /// Where cgroups are mounted, `/sys/fs/cgroup`.
    root: PathBuf,
    pub version: Version,
    pub driver: Driver,
    /// The directory name under each hierarchy (`canopy-<node>` or `canopy<node>.slice`).
    name: String,
}

impl TaskCgroup {
    /// The parent cgroup of node `node_id` on this host (`root` is `/sys/fs/cgroup`).
    pub fn detect(root: &Path, driver: Driver, node_id: &str) -> Self {
        let version = if root.join("cgroup.controllers").exists() {
            Version::V2
        } else {
            Version::V1
        };
        let short: String = node_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect();
        let name = match driver {
            // A dash would make systemd nest the slice under `canopy.slice`.
            Driver::Systemd => format!("canopyworker{short}.slice"),
            Driver::Cgroupfs => format!("canopy-{short}"),
        };
        TaskCgroup {
            root: root.to_owned(),
            version,
            driver,
            name,
        }
    }

    /// What Docker is given as `cgroup_parent`.
    pub fn docker_parent(&self) -> String {
        match self.driver {
            Driver::Systemd => self.name.clone(),
            Driver::Cgroupfs => format!("/{}", self.name),
        }
    }

    /// The parent's directory in `controller`'s hierarchy (v1) or the unified one (v2).
    pub fn parent_dir(&self, controller: &str) -> PathBuf {
        match self.version {
            Version::V2 => self.root.join(&self.name),
            Version::V1 => {
                let mount = [controller.to_owned(), "cpu,cpuacct".to_owned()]
                    .into_iter()
                    .map(|dir| self.root.join(dir))
                    .find(|dir| dir.exists())
                    .unwrap_or_else(|| self.root.join(controller));
                mount.join(&self.name)
            }
        }
    }

    fn container_dir(&self, controller: &str, container_id: &str) -> PathBuf {
        let leaf = match self.driver {
            Driver::Systemd => format!("docker-{container_id}.scope"),
            Driver::Cgroupfs => container_id.to_owned(),
        };
        self.parent_dir(controller).join(leaf)
    }

    /// Sets the caps (none set: no limit) on the parent, creating it.
    pub fn apply(&self, caps: &Caps) -> Result<(), CgroupError> {
        match (self.driver, self.version) {
            (Driver::Systemd, _) => self.apply_systemd(caps),
            (Driver::Cgroupfs, Version::V1) => {
                let cpu = self.parent_dir("cpu");
                create(&cpu)?;
                create(&self.parent_dir("cpuacct"))?;
                write(&cpu.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
                let quota = caps.quota_us().map_or("-1".to_owned(), |q| q.to_string());
                write(&cpu.join("cpu.cfs_quota_us"), &quota)?;
                let memory = self.parent_dir("memory");
                create(&memory)?;
                let limit = caps
                    .memory_mb
                    .map_or("-1".to_owned(), |mb| (u64::from(mb) << 20).to_string());
                write(&memory.join("memory.limit_in_bytes"), &limit)
            }
            (Driver::Cgroupfs, Version::V2) => {
                // Children get the controllers only when every ancestor delegates them.
                let _ = std::fs::write(self.root.join("cgroup.subtree_control"), "+cpu +memory");
                let dir = self.parent_dir("");
                create(&dir)?;
                let _ = std::fs::write(dir.join("cgroup.subtree_control"), "+cpu +memory");
                let quota = caps.quota_us().map_or("max".to_owned(), |q| q.to_string());
                write(&dir.join("cpu.max"), &format!("{quota} {PERIOD_US}"))?;
                let limit = caps
                    .memory_mb
                    .map_or("max".to_owned(), |mb| (u64::from(mb) << 20).to_string());
                write(&dir.join("memory.max"), &limit)
            }
        }
    }

    fn apply_systemd(&self, caps: &Caps) -> Result<(), CgroupError> {
        let cpu = caps.cpu_percent.map_or("CPUQuota=".to_owned(), |percent| {
            format!("CPUQuota={}%", percent * caps.host_cpus.max(1))
        });
        let memory = caps
            .memory_mb
            .map_or("MemoryMax=infinity".to_owned(), |mb| {
                format!("MemoryMax={mb}M")
            });
        let output = Command::new("systemctl")
            .args(["set-property", "--runtime", &self.name, &cpu, &memory])
            .output()
            .map_err(|error| CgroupError::Systemd {
                slice: self.name.clone(),
                message: error.to_string(),
            })?;
        if output.status.success() {
            Ok(())
        } else {
            Err(CgroupError::Systemd {
                slice: self.name.clone(),
                message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// CPU time used so far by one container, seconds; `None` when its cgroup is not readable.
    pub fn container_cpu_seconds(&self, container_id: &str) -> Option<f64> {
        self.cpu_seconds_in(&self.container_dir("cpuacct", container_id))
    }

    /// CPU time used so far by all task containers (past and present), seconds.
    pub fn parent_cpu_seconds(&self) -> Option<f64> {
        self.cpu_seconds_in(&self.parent_dir("cpuacct"))
    }

    fn cpu_seconds_in(&self, dir: &Path) -> Option<f64> {
        match self.version {
            Version::V1 => {
                let ns: u64 = read_trimmed(&dir.join("cpuacct.usage"))?.parse().ok()?;
                Some(ns as f64 / 1e9)
            }
            Version::V2 => {
                let stat = read_trimmed(&dir.join("cpu.stat"))?;
                let usec: u64 = stat
                    .lines()
                    .find_map(|line| line.strip_prefix("usage_usec "))?
                    .trim()
                    .parse()
                    .ok()?;
                Some(usec as f64 / 1e6)
            }
        }
    }

    /// Whether the caps can be written here (doctor): the hierarchy is writable.
    pub fn writable(&self) -> bool {
        match self.driver {
            Driver::Systemd => Command::new("systemctl")
                .arg("--version")
                .output()
                .is_ok_and(|output| output.status.success()),
            Driver::Cgroupfs => {
                let dir = self.parent_dir("cpu");
                let existed = dir.exists();
                let ok = std::fs::create_dir_all(&dir).is_ok()
                    && std::fs::metadata(&dir).is_ok_and(|meta| !meta.permissions().readonly());
                if !existed {
                    let _ = std::fs::remove_dir(&dir);
                }
                ok
            }
        }
    }

    /// Removes the parent's directories once no container is left in them (at exit): in every
    /// v1 hierarchy (Docker creates it in each), or the one v2 directory.
    pub fn remove(&self) {
        match (self.driver, self.version) {
            (Driver::Systemd, _) => {}
            (Driver::Cgroupfs, Version::V2) => {
                let _ = std::fs::remove_dir(self.root.join(&self.name));
            }
            (Driver::Cgroupfs, Version::V1) => {
                let Ok(mounts) = std::fs::read_dir(&self.root) else {
                    return;
                };
                for mount in mounts.flatten() {
                    let _ = std::fs::remove_dir(mount.path().join(&self.name));
                }
            }
        }
    }

    /// `cgroup v1, cgroupfs driver, parent /canopy-…` for logs and doctor.
    pub fn describe(&self) -> String {
        let version = match self.version {
            Version::V1 => "v1",
            Version::V2 => "v2",
        };
        let driver = match self.driver {
            Driver::Cgroupfs => "cgroupfs",
            Driver::Systemd => "systemd",
        };
        format!(
            "cgroup {version}, {driver} driver, task containers under {}",
            self.docker_parent()
        )
    }
}

fn create(dir: &Path) -> Result<(), CgroupError> {
    std::fs::create_dir_all(dir).map_err(|source| CgroupError::Write {
        path: dir.to_owned(),
        source,
    })
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_owned(),
        source,
    })
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_a_share_of_all_the_host_cpus() {
        let caps = Caps {
            cpu_percent: Some(50),
            host_cpus: 2,
            memory_mb: None,
        };
        assert_eq!(caps.quota_us(), Some(100_000), "50 % of 2 CPUs is one CPU");
        assert_eq!(Caps::default().quota_us(), None);
    }

    #[test]
    fn v1_and_v2_layouts_are_written_and_read() {
        let root = tempfile::tempdir().expect("dir");
        for controller in ["cpu", "cpuacct", "memory"] {
            std::fs::create_dir_all(root.path().join(controller)).expect("mount");
        }
        let cgroup = TaskCgroup::detect(root.path(), Driver::Cgroupfs, "0123456789abcdef0123");
        assert_eq!(cgroup.version, Version::V1);
        assert_eq!(cgroup.docker_parent(), "/canopy-0123456789ab");
        let caps = Caps {
            cpu_percent: Some(25),
            host_cpus: 4,
            memory_mb: Some(512),
        };
        cgroup.apply(&caps).expect("applied");
        let read = |path: PathBuf| std::fs::read_to_string(path).expect("read");
        assert_eq!(
            read(cgroup.parent_dir("cpu").join("cpu.cfs_quota_us")),
            "100000"
        );
        assert_eq!(
            read(cgroup.parent_dir("memory").join("memory.limit_in_bytes")),
            "536870912"
        );
        let container = cgroup.parent_dir("cpuacct").join("c1");
        std::fs::create_dir_all(&container).expect("dir");
        std::fs::write(container.join("cpuacct.usage"), "1500000000\n").expect("write");
        assert_eq!(cgroup.container_cpu_seconds("c1"), Some(1.5));
        assert_eq!(cgroup.container_cpu_seconds("gone"), None);

        let root = tempfile::tempdir().expect("dir");
        std::fs::write(root.path().join("cgroup.controllers"), "cpu memory").expect("v2");
        let cgroup = TaskCgroup::detect(root.path(), Driver::Cgroupfs, "abc");
        assert_eq!(cgroup.version, Version::V2);
        cgroup.apply(&caps).expect("applied");
        assert_eq!(read(cgroup.parent_dir("").join("cpu.max")), "100000 100000");
        assert_eq!(read(cgroup.parent_dir("").join("memory.max")), "536870912");
        cgroup.apply(&Caps::default()).expect("uncapped");
        assert_eq!(read(cgroup.parent_dir("").join("cpu.max")), "max 100000");
        let container = cgroup.parent_dir("").join("c2");
        std::fs::create_dir_all(&container).expect("dir");
        std::fs::write(
            container.join("cpu.stat"),
            "usage_usec 2500000\nuser_usec 1\n",
        )
        .expect("w");
        assert_eq!(cgroup.container_cpu_seconds("c2"), Some(2.5));
        let systemd = TaskCgroup::detect(root.path(), Driver::Systemd, "abc");
        assert_eq!(systemd.docker_parent(), "canopyworkerabc.slice");
    }
}

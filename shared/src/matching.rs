//! Which node may run which task, and why a task still waits. One predicate, used by the
//! dispatcher's scheduler, its `pendingReason` and the tests.

use uuid::Uuid;

use crate::protocol::Resources;
use crate::{Capabilities, Lang};

/// What a task needs: its account (whose nodes may run it), its language and the capability
/// snapshot taken at issue time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    pub account: Uuid,
    pub lang: Lang,
    pub capabilities: Capabilities,
    /// The function runs in a custom image: only nodes that allow them may take it.
    pub custom_image: bool,
}

/// Whose tasks a node may run (docs/security.md): its owner's, its owner's pool partners', and,
/// when its owner offers it as a volunteer, those of functions that allow volunteers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeTrust {
    pub owner: Uuid,
    pub volunteer: bool,
    /// Accounts that share a pool with the owner.
    pub pooled: Vec<Uuid>,
}

impl NodeTrust {
    /// Whether a task of `account`, from a function that does or does not allow volunteers,
    /// may run on this node.
    pub fn serves(&self, account: Uuid, allows_volunteers: bool) -> bool {
        account == self.owner
            || (self.volunteer && allows_volunteers)
            || self.pooled.contains(&account)
    }
}

/// A connected node as the scheduler sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeOffer {
    pub trust: NodeTrust,
    pub resources: Resources,
    /// Memory not taken by running tasks, MB.
    pub free_memory_mb: u32,
    /// Measured WebSocket round trip, ms; `None` until the first pong.
    pub latency_ms: Option<u32>,
    /// Tasks the node can take right now (its outstanding credits).
    pub free_slots: u32,
}

/// The first reason a node cannot run a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The node may not run this account's tasks at all.
    Trust,
    Runtime,
    /// The function has a custom image and the node does not allow them.
    CustomImage,
    Cpus {
        needed: u32,
        offered: u32,
    },
    Memory {
        needed: u32,
        free: u32,
    },
    Privileged,
    /// A `renewableOnly` node whose grid intensity is above its threshold (or unknown).
    NotRenewable {
        intensity: Option<u32>,
        threshold: u32,
    },
    Latency {
        bound: u32,
        measured: Option<u32>,
    },
}

/// Whether the node can run the task at all (ignoring whether it is busy right now).
pub fn check(task: &Requirements, node: &NodeOffer) -> Result<(), Mismatch> {
    let caps = &task.capabilities;
    if !node.trust.serves(task.account, caps.volunteers) {
        return Err(Mismatch::Trust);
    }
    if task.custom_image {
        if !node.resources.allows_custom_images {
            return Err(Mismatch::CustomImage);
        }
    } else if !node.resources.runtimes.contains(&task.lang) {
        return Err(Mismatch::Runtime);
    }
    if caps.cpu_count > node.resources.cpus {
        return Err(Mismatch::Cpus {
            needed: caps.cpu_count,
            offered: node.resources.cpus,
        });
    }
    if caps.mem_size > node.free_memory_mb {
        return Err(Mismatch::Memory {
            needed: caps.mem_size,
            free: node.free_memory_mb,
        });
    }
    if caps.privileged && !node.resources.allows_privileged {
        return Err(Mismatch::Privileged);
    }
    renewable(node)?;
    if caps.network_latency > 0
        && node
            .latency_ms
            .is_none_or(|measured| measured > caps.network_latency)
    {
        return Err(Mismatch::Latency {
            bound: caps.network_latency,
            measured: node.latency_ms,
        });
    }
    Ok(())
}

/// gCO₂/kWh under which a `renewableOnly` node that names no threshold takes tasks (the UK
/// Carbon Intensity API calls under 100 "low").
pub const DEFAULT_RENEWABLE_THRESHOLD: u32 = 100;

/// GreenCloud's rule: a `renewableOnly` node takes tasks only while its grid intensity is known
/// and at most its threshold.
pub fn renewable(node: &NodeOffer) -> Result<(), Mismatch> {
    let Some(energy) = node.resources.energy.as_ref().filter(|e| e.renewable_only) else {
        return Ok(());
    };
    let threshold = energy
        .renewable_threshold
        .unwrap_or(DEFAULT_RENEWABLE_THRESHOLD);
    match energy.carbon_intensity {
        Some(intensity) if intensity <= threshold => Ok(()),
        intensity => Err(Mismatch::NotRenewable {
            intensity,
            threshold,
        }),
    }
}

/// Whether the node can run the task now: it fits and has a free slot.
pub fn fits_now(task: &Requirements, node: &NodeOffer) -> bool {
    node.free_slots > 0 && check(task, node).is_ok()
}

/// A sentence saying why a queued task is not running, given the connected nodes. Nodes that
/// may not run the task are not described (another account's machines are none of its business).
pub fn explain(task: &Requirements, nodes: &[NodeOffer]) -> String {
    let allowed = task.capabilities.volunteers;
    let nodes: Vec<&NodeOffer> = nodes
        .iter()
        .filter(|node| node.trust.serves(task.account, allowed))
        .collect();
    if nodes.is_empty() {
        return if allowed {
            "no node of this account, its pools or a volunteer is connected".to_owned()
        } else {
            "no node of this account or its pools is connected (capability volunteers is off)"
                .to_owned()
        };
    }
    let fitting: Vec<&NodeOffer> = nodes
        .iter()
        .copied()
        .filter(|node| check(task, node).is_ok())
        .collect();
    if !fitting.is_empty() {
        let free = fitting.iter().filter(|node| node.free_slots > 0).count();
        return match (fitting.len(), free) {
            (1, 0) => "1 node matches but it is busy".to_owned(),
            (n, 0) => format!("{n} nodes match but all are busy"),
            (n, _) => format!("{n} node(s) match; waiting for one to take it"),
        };
    }
    // Narrow down in the predicate's order and report the first requirement nobody meets.
    let caps = &task.capabilities;
    let lang = task.lang.lowercase();
    // A custom image needs no runtime image, only a node whose owner allows custom images.
    let with_runtime: Vec<&NodeOffer> = nodes
        .iter()
        .copied()
        .filter(|n| {
            if task.custom_image {
                n.resources.allows_custom_images
            } else {
                n.resources.runtimes.contains(&task.lang)
            }
        })
        .collect();
    if with_runtime.is_empty() {
        return if task.custom_image {
            "no connected node allows custom images".to_owned()
        } else {
            format!("no connected node offers runtime {lang}")
        };
    }
    let with_cpus: Vec<&NodeOffer> = with_runtime
        .iter()
        .copied()
        .filter(|n| n.resources.cpus >= caps.cpu_count)
        .collect();
    if with_cpus.is_empty() {
        let most = with_runtime
            .iter()
            .map(|n| n.resources.cpus)
            .max()
            .unwrap_or(0);
        return format!(
            "no connected node with runtime {lang} offers {} CPUs (most: {most})",
            caps.cpu_count
        );
    }
    let with_memory: Vec<&NodeOffer> = with_cpus
        .iter()
        .copied()
        .filter(|n| n.free_memory_mb >= caps.mem_size)
        .collect();
    if with_memory.is_empty() {
        let most = with_cpus
            .iter()
            .map(|n| n.free_memory_mb)
            .max()
            .unwrap_or(0);
        return format!(
            "no connected node has {} MB free for runtime {lang} (most: {most} MB)",
            caps.mem_size
        );
    }
    let allowing: Vec<&NodeOffer> = with_memory
        .iter()
        .copied()
        .filter(|n| !caps.privileged || n.resources.allows_privileged)
        .collect();
    if allowing.is_empty() {
        return "no connected node allows privileged containers".to_owned();
    }
    let clean: Vec<&NodeOffer> = allowing
        .iter()
        .copied()
        .filter(|n| renewable(n).is_ok())
        .collect();
    if clean.is_empty() {
        let n = allowing.len();
        return format!(
            "{n} node(s) match but take tasks only on renewable power, and their grid is above their threshold now"
        );
    }
    let best = clean.iter().filter_map(|n| n.latency_ms).min();
    match best {
        Some(best) => format!(
            "no connected node is within {} ms (best: {best} ms)",
            caps.network_latency
        ),
        None => format!(
            "no connected node has a measured latency yet (bound: {} ms)",
            caps.network_latency
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: Uuid = Uuid::from_u128(1);
    const STRANGER: Uuid = Uuid::from_u128(2);
    const PARTNER: Uuid = Uuid::from_u128(3);

    fn node() -> NodeOffer {
        NodeOffer {
            trust: NodeTrust {
                owner: OWNER,
                volunteer: false,
                pooled: vec![PARTNER],
            },
            resources: Resources {
                cpus: 2,
                memory_mb: 1024,
                arch: "x86_64".into(),
                os: "linux".into(),
                runtimes: vec![Lang::Py, Lang::Js],
                max_concurrency: 2,
                allows_privileged: false,
                allows_egress: false,
                allows_custom_images: false,
                compiles: Vec::new(),
                energy: None,
            },
            free_memory_mb: 1024,
            latency_ms: Some(20),
            free_slots: 1,
        }
    }

    fn task(change: impl FnOnce(&mut Capabilities)) -> Requirements {
        let mut capabilities = Capabilities::default();
        change(&mut capabilities);
        Requirements {
            account: OWNER,
            lang: Lang::Py,
            capabilities,
            custom_image: false,
        }
    }

    #[test]
    fn a_default_task_fits_a_node_with_its_runtime() {
        assert_eq!(check(&task(|_| {}), &node()), Ok(()));
        assert!(fits_now(&task(|_| {}), &node()));
    }

    #[test]
    fn a_node_runs_its_owners_and_pool_partners_tasks_only() {
        let of = |account| Requirements {
            account,
            ..task(|_| {})
        };
        assert_eq!(check(&of(OWNER), &node()), Ok(()));
        assert_eq!(check(&of(PARTNER), &node()), Ok(()));
        assert_eq!(check(&of(STRANGER), &node()), Err(Mismatch::Trust));
        // Allowing volunteers is not enough: the node's owner must offer it too.
        let volunteering = Requirements {
            account: STRANGER,
            ..task(|c| c.volunteers = true)
        };
        assert_eq!(check(&volunteering, &node()), Err(Mismatch::Trust));
        let mut volunteer = node();
        volunteer.trust.volunteer = true;
        assert_eq!(check(&volunteering, &volunteer), Ok(()));
        assert_eq!(check(&of(STRANGER), &volunteer), Err(Mismatch::Trust));
    }

    #[test]
    fn other_accounts_nodes_are_not_described() {
        let stranger = Requirements {
            account: STRANGER,
            ..task(|_| {})
        };
        assert_eq!(
            explain(&stranger, &[node(), node()]),
            "no node of this account or its pools is connected (capability volunteers is off)"
        );
        let volunteering = Requirements {
            account: STRANGER,
            ..task(|c| c.volunteers = true)
        };
        assert_eq!(
            explain(&volunteering, &[node()]),
            "no node of this account, its pools or a volunteer is connected"
        );
        let mut busy_volunteer = node();
        busy_volunteer.trust.volunteer = true;
        busy_volunteer.free_slots = 0;
        assert_eq!(
            explain(&volunteering, &[node(), busy_volunteer]),
            "1 node matches but it is busy"
        );
    }

    #[test]
    fn runtime_must_be_present() {
        let rust = Requirements {
            account: OWNER,
            lang: Lang::Rs,
            capabilities: Capabilities::default(),
            custom_image: false,
        };
        assert_eq!(check(&rust, &node()), Err(Mismatch::Runtime));
        assert_eq!(
            explain(&rust, &[node()]),
            "no connected node offers runtime rs"
        );
    }

    #[test]
    fn cpu_count_is_a_minimum_and_zero_means_any() {
        assert_eq!(check(&task(|c| c.cpu_count = 2), &node()), Ok(()));
        assert_eq!(
            check(&task(|c| c.cpu_count = 3), &node()),
            Err(Mismatch::Cpus {
                needed: 3,
                offered: 2
            })
        );
        assert_eq!(check(&task(|c| c.cpu_count = 0), &node()), Ok(()));
    }

    #[test]
    fn memory_is_compared_with_free_memory() {
        let big = task(|c| c.mem_size = 2048);
        assert_eq!(
            check(&big, &node()),
            Err(Mismatch::Memory {
                needed: 2048,
                free: 1024
            })
        );
        assert_eq!(
            explain(&big, &[node()]),
            "no connected node has 2048 MB free for runtime py (most: 1024 MB)"
        );
        let mut busy = node();
        busy.free_memory_mb = 100;
        assert!(check(&task(|c| c.mem_size = 256), &busy).is_err());
        assert_eq!(check(&task(|c| c.mem_size = 1024), &node()), Ok(()));
    }

    #[test]
    fn privileged_needs_a_node_that_allows_it() {
        let privileged = task(|c| c.privileged = true);
        assert_eq!(check(&privileged, &node()), Err(Mismatch::Privileged));
        let mut allowing = node();
        allowing.resources.allows_privileged = true;
        assert_eq!(check(&privileged, &allowing), Ok(()));
        assert_eq!(
            explain(&privileged, &[node()]),
            "no connected node allows privileged containers"
        );
    }

    #[test]
    fn latency_bound_uses_the_measured_round_trip_and_zero_means_any() {
        assert_eq!(check(&task(|c| c.network_latency = 20), &node()), Ok(()));
        let tight = task(|c| c.network_latency = 10);
        assert_eq!(
            check(&tight, &node()),
            Err(Mismatch::Latency {
                bound: 10,
                measured: Some(20)
            })
        );
        assert_eq!(
            explain(&tight, &[node()]),
            "no connected node is within 10 ms (best: 20 ms)"
        );
        let mut unmeasured = node();
        unmeasured.latency_ms = None;
        assert!(check(&tight, &unmeasured).is_err());
        assert_eq!(check(&task(|c| c.network_latency = 0), &unmeasured), Ok(()));
    }

    #[test]
    fn busy_nodes_are_explained_as_busy() {
        let mut busy = node();
        busy.free_slots = 0;
        assert!(!fits_now(&task(|_| {}), &busy));
        assert_eq!(
            explain(&task(|_| {}), &[busy.clone(), busy]),
            "2 nodes match but all are busy"
        );
        assert_eq!(
            explain(&task(|_| {}), &[]),
            "no node of this account or its pools is connected (capability volunteers is off)"
        );
    }

    #[test]
    fn a_renewable_only_node_takes_tasks_only_under_its_threshold() {
        let mut node = node();
        let set = |node: &mut NodeOffer, intensity: Option<u32>, threshold: Option<u32>| {
            node.resources.energy = Some(crate::protocol::Energy {
                renewable: true,
                carbon_intensity: intensity,
                zone: None,
                renewable_only: true,
                renewable_threshold: threshold,
                forecast: Vec::new(),
            });
        };
        let task = task(|_| {});
        set(&mut node, Some(80), Some(80));
        assert_eq!(check(&task, &node), Ok(()));
        set(&mut node, Some(81), Some(80));
        assert_eq!(
            check(&task, &node),
            Err(Mismatch::NotRenewable {
                intensity: Some(81),
                threshold: 80
            })
        );
        set(&mut node, None, None);
        assert_eq!(
            check(&task, &node),
            Err(Mismatch::NotRenewable {
                intensity: None,
                threshold: DEFAULT_RENEWABLE_THRESHOLD
            })
        );
        assert!(explain(&task, &[node.clone()]).contains("only on renewable power"));
        if let Some(energy) = node.resources.energy.as_mut() {
            energy.renewable_only = false;
        }
        assert_eq!(check(&task, &node), Ok(()), "the rule is the node's choice");
    }

    #[test]
    fn a_custom_image_goes_only_to_nodes_that_allow_custom_images() {
        let custom = Requirements {
            custom_image: true,
            ..task(|_| {})
        };
        assert_eq!(check(&custom, &node()), Err(Mismatch::CustomImage));
        assert_eq!(
            explain(&custom, &[node()]),
            "no connected node allows custom images"
        );
        let mut allowing = node();
        allowing.resources.allows_custom_images = true;
        // The image replaces the runtime image: no runtime of the language is needed.
        allowing.resources.runtimes.clear();
        assert_eq!(check(&custom, &allowing), Ok(()));
        assert_eq!(
            check(&task(|_| {}), &allowing),
            Err(Mismatch::Runtime),
            "a node without runtimes still cannot run plain functions"
        );
    }
}

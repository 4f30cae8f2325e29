//! The summary: reads one run's JSON results (Canopy rounds, pgbench, graphile-worker), checks
//! them against the targets and renders one Markdown table (printed and written to a file).

mod render;

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::load::Round;
use crate::machine::Machine;
use crate::stats::Latency;

pub use render::render;

/// pgbench's numbers for one client count (`pgbench-c<C>.json`, written by the script).
#[derive(Debug, Clone, Deserialize)]
pub struct Pgbench {
    pub clients: usize,
    pub tps: f64,
    pub latency_avg_ms: f64,
    /// From the per-transaction log, when it was kept (the 1-client run).
    #[serde(default)]
    pub p50_ms: Option<f64>,
    #[serde(default)]
    pub p99_ms: Option<f64>,
    #[serde(default)]
    pub max_ms: Option<f64>,
    #[serde(default)]
    pub failed: u64,
}

/// graphile-worker's numbers (`graphile.json`, written by the node script or the script).
#[derive(Debug, Clone, Deserialize)]
pub struct Graphile {
    /// `ok` or `skipped`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub producers: usize,
    #[serde(default)]
    pub concurrency: usize,
    #[serde(default)]
    pub added: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub jobs_per_s: f64,
    #[serde(default)]
    pub add_errors: u64,
    /// add→start, ms.
    #[serde(default)]
    pub latency_ms: Option<Latency>,
}

/// Everything one run measured.
#[derive(Debug, Default)]
pub struct Results {
    pub pgbench: Vec<Pgbench>,
    pub create_result: Vec<Round>,
    pub create_assign: Vec<Round>,
    /// The load generator against an in-process server (its own ceiling).
    pub calibration: Vec<Round>,
    pub graphile: Option<Graphile>,
}

impl Results {
    /// Reads `pgbench-c*.json`, `result-c*.json`, `assign-c*.json`, `calibrate-c*.json` and
    /// `graphile.json`.
    pub fn load(dir: &Path) -> anyhow::Result<Results> {
        let mut results = Results::default();
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("while reading {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            if !name.ends_with(".json") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("while reading {}", path.display()))?;
            let parse = || format!("while parsing {}", path.display());
            if name.starts_with("pgbench-c") {
                results
                    .pgbench
                    .push(serde_json::from_str(&text).with_context(parse)?);
            } else if name.starts_with("result-c") {
                results
                    .create_result
                    .push(serde_json::from_str(&text).with_context(parse)?);
            } else if name.starts_with("assign-c") {
                results
                    .create_assign
                    .push(serde_json::from_str(&text).with_context(parse)?);
            } else if name.starts_with("calibrate-c") {
                results
                    .calibration
                    .push(serde_json::from_str(&text).with_context(parse)?);
            } else if name == "graphile.json" {
                results.graphile = Some(serde_json::from_str(&text).with_context(parse)?);
            }
        }
        results.pgbench.sort_by_key(|run| run.clients);
        results.create_result.sort_by_key(|round| round.clients);
        results.create_assign.sort_by_key(|round| round.clients);
        results.calibration.sort_by_key(|round| round.clients);
        Ok(results)
    }

    fn result_at(&self, clients: usize) -> Option<&Round> {
        self.create_result.iter().find(|r| r.clients == clients)
    }

    fn assign_at(&self, clients: usize) -> Option<&Round> {
        self.create_assign.iter().find(|r| r.clients == clients)
    }

    fn pgbench_at(&self, clients: usize) -> Option<&Pgbench> {
        self.pgbench.iter().find(|r| r.clients == clients)
    }

    fn graphile_ok(&self) -> Option<&Graphile> {
        self.graphile.as_ref().filter(|g| g.status == "ok")
    }
}

/// What a check compares against.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
    /// Reported, no target.
    Info,
}

/// One line of the targets table.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub measured: Option<f64>,
    pub unit: &'static str,
    pub goal: Goal,
}

impl Check {
    /// `Some(true)` met, `Some(false)` missed, `None` not measured or no target.
    pub fn met(&self) -> Option<bool> {
        let value = self.measured?;
        match self.goal {
            Goal::AtLeast(bound) => Some(value >= bound),
            Goal::AtMost(bound) => Some(value <= bound),
            Goal::Info => None,
        }
    }
}

/// The targets, computed from this run only.
pub fn checks(results: &Results) -> Vec<Check> {
    let canopy_64 = results.result_at(64).map(|r| r.throughput);
    let pgbench_64 = results.pgbench_at(64).map(|r| r.tps);
    let graphile = results.graphile_ok().map(|g| g.jobs_per_s);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let result_1 = results.result_at(1).map(|r| r.latency);
    let assign_1 = results.assign_at(1).map(|r| r.latency);
    let canopy_errors: u64 = results
        .create_result
        .iter()
        .chain(&results.create_assign)
        .map(Round::error_count)
        .sum();
    vec![
        check(
            "Canopy create→result tasks/s, 64 clients",
            canopy_64,
            "/s",
            Goal::AtLeast(10_000.0),
        ),
        check(
            "Canopy ÷ pgbench TPS, 64 clients",
            ratio(canopy_64, pgbench_64),
            "×",
            Goal::AtLeast(0.75),
        ),
        check(
            "Canopy ÷ graphile-worker jobs/s, 64",
            ratio(canopy_64, graphile),
            "×",
            Goal::Info,
        ),
        check(
            "create→result p50, 1 client",
            result_1.map(|l| l.p50),
            "ms",
            Goal::AtMost(1.5),
        ),
        check(
            "create→result p99, 1 client",
            result_1.map(|l| l.p99),
            "ms",
            Goal::AtMost(5.0),
        ),
        check(
            "create→assign p50, 1 client",
            assign_1.map(|l| l.p50),
            "ms",
            Goal::AtMost(1.5),
        ),
        check(
            "create→assign p99, 1 client",
            assign_1.map(|l| l.p99),
            "ms",
            Goal::AtMost(5.0),
        ),
        check(
            "create→assign tasks/s, 64 clients",
            results.assign_at(64).map(|r| r.throughput),
            "/s",
            Goal::Info,
        ),
        check(
            "failed requests in Canopy rounds",
            Some(canopy_errors as f64),
            "",
            Goal::AtMost(0.0),
        ),
    ]
}

fn check(name: &'static str, measured: Option<f64>, unit: &'static str, goal: Goal) -> Check {
    Check {
        name,
        measured,
        unit,
        goal,
    }
}

/// The header facts of a report.
#[derive(Debug, Clone)]
pub struct Header {
    pub date: String,
    pub machine: Machine,
    /// `key=value` facts from the script (PostgreSQL version, binaries, durability, …).
    pub meta: Vec<(String, String)>,
}

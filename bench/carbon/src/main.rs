//! `canopy-bench-carbon`: simulates a day of task arrivals on volunteer nodes in several grid
//! zones, whose intensity follows real traces (`bench/carbon/traces/`), and compares the total
//! gCO₂e of carbon-blind placement with the dispatcher's carbon-aware ranking and deferral, run
//! from its own code (`canopy_dispatcher::dispatch::policy`). Deterministic for a seed.

mod sim;

use std::path::{Path, PathBuf};

use anyhow::Context;
use canopy_shared::carbon::{parse_trace, Forecast};
use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use sim::{Mode, Outcome, Setup, Task, Zone};

/// Carbon-aware against carbon-blind placement over real grid traces.
#[derive(Debug, Parser)]
struct Args {
    /// Directory of trace files (CSV or JSON), one grid zone each.
    #[arg(long, default_value = "bench/carbon/traces")]
    traces: PathBuf,
    /// Hours of arrivals (from the traces' common start).
    #[arg(long, default_value_t = 24)]
    hours: i64,
    /// Mean arrivals per hour (a Poisson process).
    #[arg(long, default_value_t = 960.0)]
    rate_per_hour: f64,
    /// Mean run time of a task, s (exponential, 1 s to the timeout).
    #[arg(long, default_value_t = 60.0)]
    mean_run_s: f64,
    /// Share of tasks sent with `Prefer: defer`.
    #[arg(long, default_value_t = 0.5)]
    deferrable_share: f64,
    /// Their `defer` window is uniform between these many hours.
    #[arg(long, default_value_t = 1)]
    min_defer_h: i64,
    #[arg(long, default_value_t = 8)]
    max_defer_h: i64,
    #[arg(long, default_value_t = 4)]
    nodes_per_zone: usize,
    #[arg(long, default_value_t = 2)]
    slots_per_node: u32,
    /// Power of one busy slot (a core), W. Only ratios between modes depend on nothing else.
    #[arg(long, default_value_t = 15.0)]
    watts_per_slot: f64,
    /// Function timeout, s (the longest run, which deferral plans for).
    #[arg(long, default_value_t = 120)]
    timeout_s: i64,
    /// The dispatcher's defaults: `--defer-slack-s`, `--defer-min-gain-percent`.
    #[arg(long, default_value_t = 30)]
    slack_s: i64,
    #[arg(long, default_value_t = 10)]
    min_gain_percent: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Exit with status 1 unless carbon-aware placement with deferral emits at least this many
    /// percent less than carbon-blind placement with every deadline met (CI runs it with 15).
    #[arg(long)]
    require_saving_percent: Option<f64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let zones = load_zones(&args.traces)?;
    let start = zones
        .iter()
        .filter_map(|zone| zone.trace.points().first().map(|point| point.at))
        .max()
        .context("no trace has points")?;
    let tasks = workload(&args, start);
    let setup = Setup {
        nodes_per_zone: args.nodes_per_zone,
        slots_per_node: args.slots_per_node,
        watts_per_slot: args.watts_per_slot,
        timeout_s: args.timeout_s,
        slack_s: args.slack_s,
        min_gain_percent: args.min_gain_percent,
    };
    let deferrable = tasks.iter().filter(|task| task.deadline.is_some()).count();
    let names: Vec<&str> = zones.iter().map(|zone| zone.name.as_str()).collect();
    println!(
        "carbon simulation: zones={} ({}) nodes={} slots={} tasks={} (deferrable {deferrable}) hours={} rate/h={} mean_run_s={} seed={} W/slot={}",
        zones.len(),
        names.join(", "),
        zones.len() * args.nodes_per_zone,
        zones.len() * args.nodes_per_zone * args.slots_per_node as usize,
        tasks.len(),
        args.hours,
        args.rate_per_hour,
        args.mean_run_s,
        args.seed,
        args.watts_per_slot
    );
    println!(
        "{:<18} {:>10} {:>8} {:>7} {:>8} {:>6} {:>20} {:>20} {:>10}",
        "mode",
        "gCO2e",
        "kWh",
        "g/kWh",
        "deferred",
        "misses",
        "interactive p50/p95",
        "deferrable p50/p95",
        "makespan"
    );
    let mut results = Vec::new();
    for (name, mode) in [
        ("carbon-blind", Mode::Blind),
        ("green placement", Mode::GreenPlacement),
        ("green + deferral", Mode::GreenAndDeferral),
    ] {
        let mut rng = StdRng::seed_from_u64(args.seed ^ 0x5eed);
        let outcome = sim::run(&zones, &tasks, &setup, mode, &mut rng)?;
        print_row(name, &outcome);
        results.push(outcome);
    }
    let blind = results[0].grams;
    let saving = |outcome: &Outcome| 100.0 * (1.0 - outcome.grams / blind);
    let misses: usize = results.iter().map(|outcome| outcome.deadline_misses).sum();
    let met = saving(&results[2]) >= 15.0 && misses == 0;
    println!(
        "lower emissions than carbon-blind: green placement {:.1} %, green placement + deferral {:.1} %; deadline misses {misses}; target >= 15 % with every deadline met: {}",
        saving(&results[1]),
        saving(&results[2]),
        if met { "met" } else { "NOT met" }
    );
    if let Some(required) = args.require_saving_percent {
        anyhow::ensure!(
            saving(&results[2]) >= required && misses == 0,
            "carbon-aware placement saved {:.1} % with {misses} deadline misses; required {required} % and none",
            saving(&results[2])
        );
    }
    Ok(())
}

fn load_zones(dir: &Path) -> anyhow::Result<Vec<Zone>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("while listing {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("csv" | "json")
            )
        })
        .collect();
    paths.sort();
    anyhow::ensure!(
        !paths.is_empty(),
        "no .csv or .json trace in {}",
        dir.display()
    );
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("while reading {}", path.display()))?;
            let points =
                parse_trace(&text).with_context(|| format!("while parsing {}", path.display()))?;
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
            Ok(Zone {
                name: name.to_owned(),
                trace: Forecast::new(points),
            })
        })
        .collect()
}

/// Poisson arrivals over `hours`, exponential run times, a share of them deferrable.
fn workload(args: &Args, start: i64) -> Vec<Task> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let exponential = |rng: &mut StdRng, mean: f64| -mean * (1.0 - rng.gen::<f64>()).ln();
    let end = start + args.hours * 3600;
    let mut tasks = Vec::new();
    let mut at = start as f64;
    loop {
        at += exponential(&mut rng, 3600.0 / args.rate_per_hour);
        if at >= end as f64 {
            return tasks;
        }
        let run_s =
            (exponential(&mut rng, args.mean_run_s).round() as i64).clamp(1, args.timeout_s);
        let deadline = (rng.gen::<f64>() < args.deferrable_share).then(|| {
            let window = rng.gen_range(args.min_defer_h * 3600..=args.max_defer_h * 3600);
            at as i64 + window
        });
        tasks.push(Task {
            arrival: at as i64,
            run_s,
            deadline,
        });
    }
}

fn print_row(name: &str, outcome: &Outcome) {
    let pair = |values: &[i64]| {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        format!("{} / {} s", at(0.5), at(0.95))
    };
    println!(
        "{:<18} {:>10.1} {:>8.2} {:>7.1} {:>8} {:>6} {:>20} {:>20} {:>8.1} h",
        name,
        outcome.grams,
        outcome.kwh,
        outcome.grams / outcome.kwh,
        outcome.deferred,
        outcome.deadline_misses,
        pair(&outcome.interactive_s),
        pair(&outcome.deferrable_s),
        outcome.makespan_s as f64 / 3600.0
    );
}

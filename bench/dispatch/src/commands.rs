//! The subcommands behind `main`: setup, waiting for nodes, the two measured phases and the
//! report. Each phase prints one line per round and writes `<phase>-c<clients>.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::assign::{self, Tracker};
use crate::fake_worker::{FakeWorker, Identity, OnAssign};
use crate::http_load::{self, Target};
use crate::load::Round;
use crate::machine::Machine;
use crate::report::{self, Results};
use crate::setup;

/// Timing of every round of a phase.
#[derive(Debug, Clone)]
pub struct Rounds {
    pub clients: Vec<usize>,
    pub warmup: Duration,
    pub seconds: Duration,
    pub out_dir: PathBuf,
}

/// `setup`: prepares the dispatcher and writes the shell-sourceable env file (mode 0600).
pub async fn setup(base: &str, worker_nodes: usize, env_out: &Path) -> anyhow::Result<()> {
    let prepared = setup::prepare(base, worker_nodes)
        .await
        .context("while setting up the dispatcher through its API")?;
    write_private(env_out, &prepared.to_env())?;
    eprintln!(
        "setup: function {}, {} worker node(s) + 1 fake-worker node; env in {}",
        prepared.function,
        prepared.worker_nodes.len(),
        env_out.display()
    );
    Ok(())
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("while creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("while writing {}", path.display()))
}

/// `wait-nodes`: until `count` nodes are connected.
pub async fn wait_nodes(
    base: &str,
    token: &str,
    count: usize,
    timeout_s: u64,
) -> anyhow::Result<()> {
    setup::wait_nodes(base, token, count, timeout_s).await?;
    Ok(())
}

/// `create-result`: the rounds with real workers.
pub async fn create_result(target: &Target, rounds: &Rounds, wait_s: u64) -> anyhow::Result<()> {
    for &clients in &rounds.clients {
        let round =
            http_load::create_result_round(target, clients, rounds.warmup, rounds.seconds, wait_s)
                .await?;
        finish_round("create→result", "result", &round, rounds)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// `create-assign`: the rounds with this process's own protocol client as the only worker.
pub async fn create_assign(
    target: &Target,
    identity: &Identity,
    rounds: &Rounds,
) -> anyhow::Result<()> {
    let tracker = Arc::new(Tracker::default());
    let on_assign: OnAssign = {
        let tracker = tracker.clone();
        Arc::new(move |task_id, at| tracker.on_assign(task_id, at))
    };
    let worker = FakeWorker::connect(identity, on_assign)
        .await
        .context("while connecting the fake worker")?;
    // Tasks left queued by earlier phases are assigned now and counted as unmatched.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for &clients in &rounds.clients {
        let mut round = assign::create_assign_round(
            target,
            tracker.clone(),
            clients,
            rounds.warmup,
            rounds.seconds,
        )
        .await?;
        round.unmatched_assigns = Some(tracker.take_unmatched());
        if let Some(reason) = worker.failure() {
            eprintln!("create→assign: the fake worker's connection failed: {reason}");
            *round
                .errors
                .entry("fake_worker_connection_failed".into())
                .or_default() += 1;
        }
        finish_round("create→assign", "assign", &round, rounds)?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "create→assign: {} assignments received in all",
        worker.assigned()
    );
    match worker.stop().await {
        Some(took) => eprintln!(
            "create→assign: the dispatcher closed the session {} ms after goodbye (its backlog of this socket's messages)",
            took.as_millis()
        ),
        None => eprintln!("create→assign: the dispatcher did not close the session within 30 s of goodbye"),
    }
    Ok(())
}

fn finish_round(phase: &str, file: &str, round: &Round, rounds: &Rounds) -> anyhow::Result<()> {
    let l = &round.latency;
    println!(
        "{phase:<14} clients={:<4} ok={:<8} {:>9.1}/s  p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms  errors={}{}",
        round.clients,
        round.ok,
        round.throughput,
        l.p50,
        l.p90,
        l.p99,
        l.max,
        round.error_count(),
        if round.errors.is_empty() {
            String::new()
        } else {
            format!(" {:?}", round.errors)
        },
    );
    let path = rounds
        .out_dir
        .join(format!("{file}-c{}.json", round.clients));
    std::fs::write(&path, serde_json::to_vec_pretty(round)?)
        .with_context(|| format!("while writing {}", path.display()))
}

/// `report`: prints the Markdown summary and writes it to `out`.
pub fn report(
    dir: &Path,
    out: &Path,
    date: String,
    meta: Vec<(String, String)>,
) -> anyhow::Result<()> {
    let results = Results::load(dir)?;
    let context = report::Header {
        date,
        machine: Machine::detect(),
        meta,
    };
    let markdown = report::render(&results, &context);
    print!("{markdown}");
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("while creating {}", parent.display()))?;
    }
    std::fs::write(out, markdown).with_context(|| format!("while writing {}", out.display()))
}

//! Dispatch benchmark driver (run by `bench/dispatch.sh`): API setup, the create→result and
//! create→assign load phases against a running dispatcher, and the Markdown report.

mod assign;
mod calibrate;
mod commands;
mod fake_worker;
mod http_load;
mod load;
mod machine;
mod report;
mod setup;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::commands::Rounds;
use crate::fake_worker::Identity;
use crate::http_load::Target;

#[derive(Debug, Parser)]
#[command(name = "canopy-bench-dispatch", about)]
struct Cli {
    /// Tokio worker threads of the load generator.
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the account, API key, function + build and nodes; write a shell env file.
    Setup {
        #[arg(long)]
        base: String,
        /// Nodes for real workers (one more is made for the fake worker).
        #[arg(long, default_value_t = 1)]
        worker_nodes: usize,
        #[arg(long)]
        env_out: PathBuf,
    },
    /// Wait until this many of the account's nodes are connected.
    WaitNodes {
        #[arg(long)]
        base: String,
        #[arg(long, env = "BENCH_TOKEN", hide_env_values = true)]
        token: String,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 30)]
        timeout_s: u64,
    },
    /// Clients post with `Prefer: wait` and wait for the function's result (real workers).
    CreateResult {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        rounds: RoundArgs,
        /// `Prefer: wait=N`.
        #[arg(long, default_value_t = 30)]
        wait_s: u64,
    },
    /// Clients post without waiting; this process's own worker times each task's `assign`.
    CreateAssign {
        #[command(flatten)]
        target: TargetArgs,
        #[command(flatten)]
        rounds: RoundArgs,
        #[arg(long, env = "BENCH_FAKE_NODE_ID")]
        node_id: String,
        #[arg(long, env = "BENCH_FAKE_NODE_TOKEN", hide_env_values = true)]
        node_token: String,
        /// Credits the fake worker grants (1–1024).
        #[arg(long, default_value_t = 1024)]
        max_concurrency: u32,
    },
    /// Measure the load generator alone, against an in-process server that answers at once.
    Calibrate {
        #[arg(long, value_delimiter = ',', default_value = "1,64,256")]
        clients: Vec<usize>,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value_t = 1.0)]
        warmup_s: f64,
        /// Also write `calibrate-c<clients>.json` here.
        #[arg(long)]
        out_dir: Option<PathBuf>,
    },
    /// Print the Markdown summary of a run directory and write it to a file.
    Report {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The run's date, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// `KEY=VALUE` facts for the header (repeatable).
        #[arg(long, value_parser = parse_meta)]
        meta: Vec<(String, String)>,
    },
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// Dispatcher base URL, `http://127.0.0.1:PORT`.
    #[arg(long)]
    base: String,
    #[arg(long, env = "BENCH_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long, env = "BENCH_FUNCTION")]
    function: String,
}

#[derive(Debug, Args)]
struct RoundArgs {
    /// Client counts, one round each.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
    clients: Vec<usize>,
    /// Measured seconds per round.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Uncounted warm-up seconds before each round.
    #[arg(long, default_value_t = 2.0)]
    warmup_s: f64,
    /// Where `<phase>-c<clients>.json` go.
    #[arg(long)]
    out_dir: PathBuf,
}

impl TargetArgs {
    fn target(&self) -> Target {
        Target {
            base: self.base.trim_end_matches('/').to_owned(),
            token: self.token.clone(),
            function: self.function.clone(),
        }
    }
}

impl RoundArgs {
    fn rounds(&self) -> anyhow::Result<Rounds> {
        anyhow::ensure!(
            self.clients.iter().all(|c| *c > 0),
            "client counts must be positive"
        );
        Ok(Rounds {
            clients: self.clients.clone(),
            warmup: Duration::try_from_secs_f64(self.warmup_s)?,
            seconds: Duration::try_from_secs_f64(self.seconds)?,
            out_dir: self.out_dir.clone(),
        })
    }
}

fn parse_meta(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Setup {
            base,
            worker_nodes,
            env_out,
        } => commands::setup(&base, worker_nodes, &env_out).await,
        Command::WaitNodes {
            base,
            token,
            count,
            timeout_s,
        } => commands::wait_nodes(&base, &token, count, timeout_s).await,
        Command::CreateResult {
            target,
            rounds,
            wait_s,
        } => commands::create_result(&target.target(), &rounds.rounds()?, wait_s).await,
        Command::CreateAssign {
            target,
            rounds,
            node_id,
            node_token,
            max_concurrency,
        } => {
            let identity = Identity {
                base: target.base.clone(),
                node_id,
                node_token,
                max_concurrency,
            };
            commands::create_assign(&target.target(), &identity, &rounds.rounds()?).await
        }
        Command::Calibrate {
            clients,
            seconds,
            warmup_s,
            out_dir,
        } => {
            let warmup = Duration::try_from_secs_f64(warmup_s)?;
            let seconds = Duration::try_from_secs_f64(seconds)?;
            calibrate::calibrate(&clients, warmup, seconds, out_dir.as_deref()).await
        }
        Command::Report {
            dir,
            out,
            date,
            meta,
        } => commands::report(&dir, &out, date, meta),
    }
}

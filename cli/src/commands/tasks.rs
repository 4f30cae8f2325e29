//! `canopy task get|wait|result|cancel|list`.

use std::time::{Duration, Instant};

use canopy_shared::api::task::{TaskSummary, TaskView};
use reqwest::Method;
use serde::Deserialize;

use super::invoke::{await_result, emit};
use crate::client::Api;
use crate::error::{CliError, CliResult};
use crate::ids::parse_id;
use crate::output::{or_dash, unix_time, Out, OutputArgs};
use crate::session::{self, Target};

#[derive(Debug, clap::Args)]
pub struct TaskArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(subcommand)]
    pub command: TaskCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TaskCommand {
    /// A task's status, attempt, timings and error.
    Get {
        #[arg(value_parser = parse_id)]
        id: String,
    },
    /// Waits until the task ends and prints it; exits 3 unless it succeeded.
    Wait {
        #[arg(value_parser = parse_id)]
        id: String,
        /// Seconds to wait.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Prints the function's response; waits for it unless --no-wait; exits 3 unless the task succeeded.
    Result {
        #[arg(value_parser = parse_id)]
        id: String,
        /// Answer at once (TASK_PENDING while it runs).
        #[arg(long)]
        no_wait: bool,
        /// Seconds to wait.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Cancels a task that has not ended.
    Cancel {
        #[arg(value_parser = parse_id)]
        id: String,
    },
    /// The caller's tasks, oldest first.
    List {
        /// Only this function's tasks.
        #[arg(long, value_parser = parse_id)]
        function: Option<String>,
        /// A state (`succeeded`, `failed`, …) or the function's HTTP status.
        #[arg(long)]
        status: Option<String>,
        /// Issued at or after (Unix seconds, RFC 3339 or a date).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        /// Page size, 1–1000.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

pub async fn run(target: &Target, args: TaskArgs) -> CliResult<()> {
    let out = Out::new(&args.out);
    let api = session::connect(target).await?;
    match args.command {
        TaskCommand::Get { id } => {
            let task: TaskView = api.get(&format!("/v1/task/{id}")).await?;
            print_task(out, &task)
        }
        TaskCommand::Wait { id, timeout } => {
            let deadline = Instant::now() + Duration::from_secs(timeout);
            let response = await_result(&api, &id, deadline).await?;
            // A missing task is a 404 problem, not a finished task.
            if response.status() == reqwest::StatusCode::NOT_FOUND {
                return Err(crate::client::problem_of(response).await);
            }
            let task: TaskView = api.get(&format!("/v1/task/{id}")).await?;
            print_task(out, &task)?;
            if task.status == "succeeded" {
                Ok(())
            } else {
                Err(task_failure(&task))
            }
        }
        TaskCommand::Result {
            id,
            no_wait,
            timeout,
        } => {
            if no_wait {
                let response = api
                    .send_raw(api.request(Method::GET, &format!("/v1/task/{id}/result")))
                    .await?;
                if response.status() == reqwest::StatusCode::ACCEPTED
                    && !response.headers().contains_key("x-canopy-task-status")
                {
                    return Err(pending(&api, &id).await);
                }
                return emit(response).await;
            }
            let deadline = Instant::now() + Duration::from_secs(timeout);
            emit(await_result(&api, &id, deadline).await?).await
        }
        TaskCommand::Cancel { id } => {
            api.call::<()>(Method::POST, &format!("/v1/task/{id}/cancel"), None)
                .await?;
            out.done(&id, "cancelled", &format!("Cancelled task {id}"))
        }
        TaskCommand::List {
            function,
            status,
            since,
            until,
            limit,
        } => {
            let mut query = vec![("limit", limit.to_string())];
            for (name, value) in [
                ("functionId", function),
                ("status", status),
                ("since", since),
                ("until", until),
            ] {
                if let Some(value) = value {
                    query.push((name, value));
                }
            }
            let request = api.request(Method::GET, "/v1/task/list").query(&query);
            let tasks: Vec<TaskSummary> = crate::client::decode(api.send(request).await?).await?;
            out.list(
                &tasks,
                |t| t.id.clone(),
                &["ID", "STATE", "HTTP", "ISSUED"],
                |t| {
                    vec![
                        t.id.clone(),
                        t.state.clone(),
                        t.status.to_string(),
                        unix_time(&t.issued),
                    ]
                },
            )
        }
    }
}

async fn pending(api: &Api, id: &str) -> CliError {
    #[derive(Deserialize)]
    struct Status {
        status: String,
    }
    let status = api
        .get::<Status>(&format!("/v1/task/{id}"))
        .await
        .map(|task| task.status)
        .unwrap_or_else(|_| "pending".into());
    CliError::Api(Box::new(canopy_shared::api::Problem {
        kind: "about:blank".into(),
        title: "Accepted".into(),
        status: 202,
        code: "TASK_PENDING".into(),
        detail: format!("task {id} is {status}; `canopy task wait {id}` waits for it"),
        errors: Vec::new(),
    }))
}

fn task_failure(task: &TaskView) -> CliError {
    let reason = task
        .error
        .as_ref()
        .map(|error| format!(" ({}): {}", error.kind, error.message))
        .unwrap_or_default();
    CliError::TaskFailed {
        code: format!("TASK_{}", task.status.to_uppercase()),
        message: format!("task {} {}{reason}", task.id, task.status),
    }
}

fn print_task(out: Out, task: &TaskView) -> CliResult<()> {
    let timings = &task.timings;
    out.one(
        task,
        &task.id,
        vec![
            ("id", task.id.clone()),
            ("function", task.function_id.clone()),
            ("status", task.status.clone()),
            ("http status", task.http_status.to_string()),
            ("attempt", task.attempt.to_string()),
            ("node", or_dash(task.node.clone())),
            (
                "error",
                or_dash(
                    task.error
                        .as_ref()
                        .map(|e| format!("{}: {}", e.kind, e.message)),
                ),
            ),
            ("pending reason", or_dash(task.pending_reason.clone())),
            ("queue ms", or_dash(timings.queue_ms)),
            ("exec ms", or_dash(timings.exec_ms)),
            ("total ms", or_dash(timings.total_ms)),
            ("warm", or_dash(timings.warm)),
        ],
    )
}

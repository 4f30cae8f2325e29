//! `canopy invoke`: a task of a function with a query and a body; waits for the function's
//! response and prints it, exiting non-zero when the task did not succeed.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use canopy_shared::api::task::{TaskPending, TaskView};
use canopy_shared::api::Created;
use reqwest::{Method, Response, StatusCode};

use crate::client::{decode, problem_of, Api};
use crate::error::{CliError, CliResult};
use crate::ids::parse_id;
use crate::output::{Format, Out};
use crate::project::function_id;
use crate::session::{self, Target};

/// Longest wait the API honours per request (`Prefer: wait`, `?wait=`); longer waits poll again.
const API_WAIT_S: u64 = 60;

#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// The function [default: the id in ./.canopy.toml].
    #[arg(value_parser = parse_id)]
    pub function: Option<String>,
    /// A query parameter for the function (repeat).
    #[arg(short = 'q', long = "query", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub query: Vec<(String, String)>,
    /// The body: TEXT, @FILE, or @- for stdin.
    #[arg(short = 'd', long = "data")]
    pub data: Option<String>,
    /// A header for the function (repeat; `x-…`, `accept`, `content-type` reach it).
    #[arg(short = 'H', long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// The body's content type [default: application/json when it parses as JSON].
    #[arg(long)]
    pub content_type: Option<String>,
    /// Print the task id and return at once instead of waiting for the response.
    #[arg(long = "async")]
    pub detach: bool,
    /// The same key within 24 h returns the first task instead of running another.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Seconds to wait for the response before giving up (the task keeps running).
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// With --async: json prints `{"id"}`.
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<Format>,
    /// With --async: the id alone (`-q` is --query here).
    #[arg(long)]
    pub quiet: bool,
}

/// `KEY=VALUE` (the value may be empty or hold more `=`).
pub fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("INVALID_QUERY: expected KEY=VALUE, got {text:?}")),
    }
}

/// `NAME:VALUE`.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("INVALID_HEADER: expected NAME:VALUE, got {text:?}")),
    }
}

pub async fn run(target: &Target, args: InvokeArgs) -> CliResult<()> {
    let function = function_id(args.function.clone())?;
    let body = read_body(args.data.as_deref())?;
    let api = session::connect(target).await?;
    let mut url = reqwest::Url::parse(&api.url(&format!("/v1/task/{function}")))
        .map_err(|error| CliError::usage("INVALID_FUNCTION", format!("{function:?}: {error}")))?;
    if !args.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&args.query);
    }
    let path = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let mut request = api.request(Method::POST, &path);
    for (name, value) in &args.headers {
        request = request.header(name, value);
    }
    if let Some(key) = &args.idempotency_key {
        request = request.header("idempotency-key", key);
    }
    if let Some((bytes, detected)) = body {
        let content_type = args.content_type.clone().unwrap_or(detected.to_owned());
        request = request
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
    }
    if args.detach {
        let created: Created = decode(api.send(request).await?).await?;
        let out = Out {
            format: args.output.unwrap_or(Format::Table),
            quiet: args.quiet,
        };
        return out.done(&created.id, "queued", &created.id);
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let response = api
        .send_raw(request.header("prefer", format!("wait={}", API_WAIT_S.min(args.timeout))))
        .await?;
    let response = match pending_id(response).await? {
        Ok(id) => await_result(&api, &id, deadline).await?,
        Err(response) => response,
    };
    emit(response).await
}

/// `-d`: the bytes and the content type they look like.
fn read_body(data: Option<&str>) -> CliResult<Option<(Vec<u8>, &'static str)>> {
    let Some(data) = data else {
        return Ok(None);
    };
    let (bytes, fallback) = match data.strip_prefix('@') {
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(CliError::io("reading the body from stdin"))?;
            (bytes, "application/octet-stream")
        }
        Some(path) => (
            std::fs::read(path).map_err(CliError::io(format!("reading {path}")))?,
            "application/octet-stream",
        ),
        None => (data.as_bytes().to_vec(), "text/plain; charset=utf-8"),
    };
    let content_type = if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
        "application/json"
    } else {
        fallback
    };
    Ok(Some((bytes, content_type)))
}

/// A 202 that says the task is still running gives its id; anything else is the answer.
async fn pending_id(response: Response) -> CliResult<Result<String, Response>> {
    if response.status() != StatusCode::ACCEPTED
        || response.headers().contains_key("x-canopy-task-status")
    {
        return Ok(Err(response));
    }
    let pending: TaskPending = decode(response).await?;
    Ok(Ok(pending.id))
}

/// Long-polls `GET /v1/task/{id}/result` until the task ends or `deadline` passes.
pub async fn await_result(api: &Api, id: &str, deadline: Instant) -> CliResult<Response> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        let wait = left.clamp(1, API_WAIT_S);
        let response = api
            .send_raw(api.request(Method::GET, &format!("/v1/task/{id}/result?wait={wait}")))
            .await?;
        match pending_id(response).await? {
            Err(response) => return Ok(response),
            Ok(_) if Instant::now() >= deadline => return Err(still_running(api, id).await),
            Ok(_) => continue,
        }
    }
}

/// The wait ran out: say where the task stands and why (the API's pending reason).
async fn still_running(api: &Api, id: &str) -> CliError {
    let state = match api.get::<TaskView>(&format!("/v1/task/{id}")).await {
        Ok(task) => match task.pending_reason {
            Some(reason) => format!("is {}: {reason}", task.status),
            None => format!("is {}", task.status),
        },
        Err(_) => "did not end in time".to_owned(),
    };
    CliError::TaskFailed {
        code: "WAIT_TIMED_OUT".into(),
        message: format!("task {id} {state}; it keeps running (`canopy task wait {id}`)"),
    }
}

/// Prints the function's response body; a task that did not succeed is an error (exit 3).
pub async fn emit(response: Response) -> CliResult<()> {
    let headers = response.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let Some(status) = header("x-canopy-task-status") else {
        if response.status().is_success() {
            return Err(CliError::Unexpected(format!(
                "HTTP {} without a task status",
                response.status()
            )));
        }
        return Err(match problem_of(response).await {
            CliError::Api(problem)
                if problem.code.starts_with("TASK_") && problem.code != "TASK_NOT_FOUND" =>
            {
                CliError::TaskFailed {
                    code: problem.code,
                    message: problem.detail,
                }
            }
            other => other,
        });
    };
    let http_status = response.status().as_u16();
    let body = response.bytes().await.map_err(|error| {
        CliError::Unexpected(format!("reading the function's response: {error}"))
    })?;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&body)
        .and_then(|()| {
            if body.ends_with(b"\n") {
                Ok(())
            } else {
                stdout.write_all(b"\n")
            }
        })
        .and_then(|()| stdout.flush())
        .map_err(CliError::io("writing the response"))?;
    if status == "succeeded" {
        return Ok(());
    }
    let id = header("x-canopy-task-id").unwrap_or_default();
    let reason = header("x-canopy-error").unwrap_or_default();
    Err(CliError::TaskFailed {
        code: format!("TASK_{}", status.to_uppercase()),
        message: format!("task {id} {status} (HTTP {http_status}): {reason}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_need_a_key_and_keep_the_rest_of_the_value() {
        assert_eq!(parse_pair("name=Ada"), Ok(("name".into(), "Ada".into())));
        assert_eq!(parse_pair("expr=a=b"), Ok(("expr".into(), "a=b".into())));
        assert_eq!(parse_pair("empty="), Ok(("empty".into(), String::new())));
        assert!(parse_pair("novalue")
            .expect_err("refused")
            .starts_with("INVALID_QUERY"));
        assert!(parse_pair("=x").is_err());
    }

    #[test]
    fn headers_are_name_colon_value() {
        assert_eq!(
            parse_header("X-Trace: 1"),
            Ok(("X-Trace".into(), "1".into()))
        );
        assert!(parse_header("nocolon")
            .expect_err("refused")
            .starts_with("INVALID_HEADER"));
    }

    #[test]
    fn bodies_that_parse_as_json_are_sent_as_json() {
        let (bytes, content_type) = read_body(Some(r#"{"a":1}"#)).expect("ok").expect("some");
        assert_eq!(bytes, br#"{"a":1}"#);
        assert_eq!(content_type, "application/json");
        let (_, content_type) = read_body(Some("hello")).expect("ok").expect("some");
        assert_eq!(content_type, "text/plain; charset=utf-8");
        assert!(read_body(None).expect("ok").is_none());
        assert!(matches!(
            read_body(Some("@/nonexistent/file")),
            Err(CliError::Io { .. })
        ));
    }
}

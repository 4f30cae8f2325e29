use std::io::Write;
use std::sync::{Arc, Mutex};

use canopy_shared::protocol::{decode_body, FunctionSpec, TaskRequest};
use canopy_shared::Capabilities;
use tracing_subscriber::EnvFilter;

use super::*;
use crate::cli::LogFormat;

fn assignment(task: &str, attempt: u32) -> Assignment {
    Assignment {
        task_id: task.into(),
        attempt,
        lease_ms: 30_000,
        function: FunctionSpec {
            function_id: "f".into(),
            build_id: "b".into(),
            lang: Lang::Js,
            artifact_sha256: "00".into(),
            artifact_size: 0,
            capabilities: Capabilities::default(),
            image: None,
        },
        request: TaskRequest {
            method: "POST".into(),
            query: String::new(),
            headers: vec![],
            content_type: None,
            body: encode_body(b"ignored"),
        },
    }
}

#[tokio::test]
async fn an_execution_answers_200_noop_as_plain_text_with_warm_timings() {
    let result = NoopRunner::new(Duration::ZERO)
        .run(assignment("t1", 2), CancellationToken::new())
        .await;
    assert_eq!((result.task_id.as_str(), result.attempt), ("t1", 2));
    let Outcome::Response {
        status,
        content_type,
        body,
        error,
    } = result.outcome
    else {
        panic!("a response, got {:?}", result.outcome)
    };
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("text/plain"));
    assert_eq!(decode_body(&body).ok().as_deref(), Some(NOOP_BODY));
    assert_eq!(error, None);
    assert_eq!(result.timings.init_ms, 0);
    assert!(result.timings.warm);
}

#[tokio::test]
async fn an_execution_takes_the_noop_delay() {
    let delay = Duration::from_millis(150);
    let started = Instant::now();
    let result = NoopRunner::new(delay)
        .run(assignment("t1", 1), CancellationToken::new())
        .await;
    assert!(started.elapsed() >= delay);
    assert!(
        result.timings.exec_ms >= 150,
        "exec time is the delay: {:?}",
        result.timings
    );
    assert!(matches!(
        result.outcome,
        Outcome::Response { status: 200, .. }
    ));
}

#[tokio::test]
async fn a_cancelled_execution_returns_promptly_as_retryable() {
    let runner = Arc::new(NoopRunner::new(Duration::from_secs(60)));
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let (runner, cancel) = (runner.clone(), cancel.clone());
        async move { runner.run(assignment("t1", 1), cancel).await }
    });
    tokio::task::yield_now().await;
    let started = Instant::now();
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(2), running)
        .await
        .expect("returns promptly")
        .expect("joined");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        result.outcome,
        Outcome::Failed {
            message: "cancelled".into(),
            retryable: true
        }
    );
}

#[tokio::test]
async fn an_already_cancelled_attempt_does_not_answer() {
    let cancel = CancellationToken::new();
    cancel.cancel();
    let result = NoopRunner::new(Duration::ZERO)
        .run(assignment("t1", 1), cancel)
        .await;
    assert!(matches!(result.outcome, Outcome::Failed { .. }));
}

/// Log lines written to memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn each_execution_logs_one_json_line_with_the_task_id_and_attempt() {
    let captured = Captured::default();
    let writer = {
        let captured = captured.clone();
        move || captured.clone()
    };
    let subscriber = crate::telemetry::subscriber(LogFormat::Json, EnvFilter::new("info"), writer);
    // The test runtime is single-threaded, so the thread-local default sees every event.
    let _guard = tracing::subscriber::set_default(subscriber);
    let runner = NoopRunner::new(Duration::ZERO);
    runner
        .run(assignment("t1", 3), CancellationToken::new())
        .await;
    runner
        .run(assignment("t2", 1), CancellationToken::new())
        .await;
    let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .filter(|line: &serde_json::Value| line["fields"]["message"] == NOOP_LOG_MESSAGE)
        .collect();
    assert_eq!(lines.len(), 2, "one line per execution: {text}");
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[0]["fields"]["task.id"], "t1");
    assert_eq!(lines[0]["fields"]["attempt"], 3);
    assert_eq!(lines[1]["fields"]["task.id"], "t2");
}

#[test]
fn a_noop_worker_advertises_the_languages_of_the_runtime_images() {
    let images = crate::config::default_runtime_images();
    assert_eq!(NoopRunner::runtimes(&images), Lang::ALL);
}

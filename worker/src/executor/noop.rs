//! The no-op executor (`--executor noop`): runs the whole protocol without Docker. Every
//! attempt waits the no-op delay and answers `200 text/plain "noop"`; benchmarks and the
//! fault-injection suite use it.

use std::time::{Duration, Instant};

use canopy_shared::protocol::{
    encode_body, Assignment, FunctionSpec, Outcome, TaskResult, Timings,
};
use canopy_shared::Lang;
use tokio_util::sync::CancellationToken;

use super::TaskRunner;

/// The body every no-op execution answers with.
pub const NOOP_BODY: &[u8] = b"noop";

/// The log message of each execution. The fault-injection suite counts executions per task
/// from these lines (fields `task.id` and `attempt`): keep it stable.
pub const NOOP_LOG_MESSAGE: &str = "noop execution";

/// Answers every attempt after a fixed delay, without containers.
#[derive(Debug, Clone)]
pub struct NoopRunner {
    delay: Duration,
}

impl NoopRunner {
    /// A runner whose executions each take `delay`.
    pub fn new(delay: Duration) -> Self {
        NoopRunner { delay }
    }

    /// The languages a noop worker advertises: those of the configured runtime images (the
    /// Docker executor's languages), in `Lang::ALL` order, without checking any image.
    pub fn runtimes<V>(runtime_images: &std::collections::HashMap<Lang, V>) -> Vec<Lang> {
        Lang::ALL
            .into_iter()
            .filter(|lang| runtime_images.contains_key(lang))
            .collect()
    }
}

impl TaskRunner for NoopRunner {
    async fn run(&self, assignment: Assignment, cancel: CancellationToken) -> TaskResult {
        // Exactly one line per execution, logged when it starts (so an execution that is
        // cancelled or killed half-way still counts). The message is `NOOP_LOG_MESSAGE`.
        tracing::info!(
            task.id = %assignment.task_id,
            attempt = assignment.attempt,
            "noop execution"
        );
        let started = Instant::now();
        let answer = Outcome::Response {
            status: 200,
            content_type: Some("text/plain".into()),
            body: encode_body(NOOP_BODY),
            error: None,
        };
        // A zero-length timer still waits for the timer wheel's next 1 ms tick.
        if self.delay.is_zero() {
            let outcome = if cancel.is_cancelled() {
                cancelled()
            } else {
                answer
            };
            return noop_result(assignment, outcome, started);
        }
        let outcome = tokio::select! {
            biased;
            _ = cancel.cancelled() => cancelled(),
            _ = tokio::time::sleep(self.delay) => answer,
        };
        noop_result(assignment, outcome, started)
    }

    fn warm_functions(&self) -> Vec<String> {
        Vec::new()
    }

    /// No containers: nothing is ever warm ahead of a task.
    async fn prewarm(&self, _function: FunctionSpec, _instances: u32) -> u32 {
        0
    }
}

fn cancelled() -> Outcome {
    Outcome::Failed {
        message: "cancelled".into(),
        retryable: true,
    }
}

fn noop_result(assignment: Assignment, outcome: Outcome, started: Instant) -> TaskResult {
    TaskResult {
        regrant: false,
        image_pin: None,
        task_id: assignment.task_id,
        attempt: assignment.attempt,
        outcome,
        timings: Timings {
            init_ms: 0,
            exec_ms: started.elapsed().as_millis() as u64,
            warm: true,
        },
        usage: None,
    }
}

#[cfg(test)]
#[path = "noop_tests.rs"]
mod tests;

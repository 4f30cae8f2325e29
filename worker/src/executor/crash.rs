//! Why a runner stopped answering in the middle of a request: killed for using more memory than
//! its limit, or its own process exited — both the function's failure, reported as such and not
//! retried — or something on the worker's side (retried elsewhere).

use std::time::Duration;

use canopy_shared::protocol::Outcome;

use super::engine::{ContainerEngine, Exit};

/// How long Docker gets to notice that the container ended.
const SETTLE_TRIES: u32 = 10;
const SETTLE_EVERY: Duration = Duration::from_millis(25);

/// The outcome of an attempt whose runner stopped answering with `transport_error`.
pub async fn classify<E: ContainerEngine>(
    engine: &E,
    container: &str,
    memory_mb: u32,
    transport_error: String,
) -> Outcome {
    for _ in 0..SETTLE_TRIES {
        match engine.exit(container).await {
            Ok(Some(exit)) => return function_failure(exit, memory_mb),
            Ok(None) => tokio::time::sleep(SETTLE_EVERY).await,
            Err(_) => break,
        }
    }
    Outcome::Failed {
        message: transport_error,
        retryable: true,
    }
}

/// The function's own failure: another node would fail the same way.
pub fn function_failure(exit: Exit, memory_mb: u32) -> Outcome {
    let message = if exit.oom_killed {
        format!(
            "OOM_KILLED: the function used more than its memory limit of {memory_mb} MB and was killed; raise memSize"
        )
    } else {
        format!(
            "FUNCTION_CRASHED: the function's process exited with code {} while handling the request",
            exit.code
        )
    };
    Outcome::Failed {
        message,
        retryable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oom_kill_and_an_exit_are_the_functions_failures() {
        let oom = function_failure(
            Exit {
                oom_killed: true,
                code: 137,
            },
            256,
        );
        assert!(
            matches!(&oom, Outcome::Failed { message, retryable: false } if message.starts_with("OOM_KILLED") && message.contains("256 MB"))
        );
        let exit = function_failure(
            Exit {
                oom_killed: false,
                code: 3,
            },
            256,
        );
        assert!(
            matches!(&exit, Outcome::Failed { message, retryable: false } if message.starts_with("FUNCTION_CRASHED") && message.contains("code 3"))
        );
    }
}

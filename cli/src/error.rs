//! The CLI's errors: each has a stable code (the API's own for problem documents) and an exit
//! status, so scripts can tell "the API refused" from "the task failed" from "bad usage".

use canopy_shared::api::Problem;

/// Exit status when a command line is wrong (clap's too).
pub const EXIT_USAGE: i32 = 2;
/// Exit status when a task ended without succeeding (failed, timed out, cancelled).
pub const EXIT_TASK_FAILED: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The API answered with a problem document.
    #[error("{}: {} (HTTP {})", .0.code, .0.detail, .0.status)]
    Api(Box<Problem>),
    /// The API answered something that is not what the command expected.
    #[error("UNEXPECTED_RESPONSE: {0}")]
    Unexpected(String),
    #[error("CONNECTION_FAILED: {url}: {source}")]
    Connection {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// No server or no credentials for it.
    #[error("NOT_LOGGED_IN: {0}")]
    NotLoggedIn(String),
    /// A command line the API would refuse anyway, caught before sending it.
    #[error("{code}: {message}")]
    Usage { code: &'static str, message: String },
    #[error("CONFIG_ERROR: {0}")]
    Config(String),
    #[error("IO_ERROR: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A task ended without succeeding; `message` says how.
    #[error("{code}: {message}")]
    TaskFailed { code: String, message: String },
}

impl CliError {
    pub fn usage(code: &'static str, message: impl Into<String>) -> Self {
        CliError::Usage {
            code,
            message: message.into(),
        }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }

    /// The process's exit status for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage { .. } => EXIT_USAGE,
            CliError::TaskFailed { .. } => EXIT_TASK_FAILED,
            _ => 1,
        }
    }

    /// What is printed on stderr: `error: CODE: detail (HTTP n)` and one line per bad field.
    pub fn render(&self) -> String {
        let mut text = format!("error: {self}");
        if let CliError::Api(problem) = self {
            for field in &problem.errors {
                text.push_str(&format!("\n  {}: {}", field.field, field.message));
            }
        }
        text
    }
}

pub type CliResult<T> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;
    use canopy_shared::api::FieldError;

    #[test]
    fn problems_render_their_code_status_and_fields() {
        let error = CliError::Api(Box::new(Problem {
            kind: "about:blank".into(),
            title: "Bad Request".into(),
            status: 400,
            code: "VALIDATION_FAILED".into(),
            detail: "name: must not be empty".into(),
            errors: vec![FieldError::new("name", "must not be empty")],
        }));
        assert_eq!(
            error.render(),
            "error: VALIDATION_FAILED: name: must not be empty (HTTP 400)\n  name: must not be empty"
        );
        assert_eq!(error.exit_code(), 1);
    }

    #[test]
    fn usage_and_task_failures_have_their_own_exit_codes() {
        assert_eq!(CliError::usage("NO_FUNCTION", "x").exit_code(), EXIT_USAGE);
        let failed = CliError::TaskFailed {
            code: "TASK_FAILED".into(),
            message: "boom".into(),
        };
        assert_eq!(failed.exit_code(), EXIT_TASK_FAILED);
        assert_eq!(failed.render(), "error: TASK_FAILED: boom");
    }
}

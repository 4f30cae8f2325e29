//! What can go wrong with a task operation, in domain terms; routes map these to problems.

use std::sync::Arc;

use uuid::Uuid;

use super::TaskStatus;
use crate::quotas::{QuotaError, QuotaExceeded};

#[derive(Debug, Clone, thiserror::Error)]
pub enum TaskError {
    #[error("no function with id {0}")]
    FunctionNotFound(Uuid),
    #[error("the function is paused")]
    FunctionPaused,
    #[error("the function changed while the task was submitted")]
    FunctionChanged,
    #[error("the function has no successful build")]
    NoRunner,
    #[error("the function's current build {0} failed to compile")]
    BuildFailed(Uuid),
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("no task with id {0}")]
    TaskNotFound(Uuid),
    #[error("the task already ended ({0})")]
    TaskFinished(TaskStatus),
    #[error(transparent)]
    QuotaExceeded(#[from] QuotaExceeded),
    #[error("the dispatcher is shutting down")]
    ShuttingDown,
    #[error("database error: {0}")]
    Database(Arc<sqlx::Error>),
}

impl From<QuotaError> for TaskError {
    fn from(error: QuotaError) -> Self {
        match error {
            QuotaError::Exceeded(exceeded) => TaskError::QuotaExceeded(exceeded),
            QuotaError::Database(error) => error.into(),
        }
    }
}

impl From<sqlx::Error> for TaskError {
    fn from(error: sqlx::Error) -> Self {
        TaskError::Database(Arc::new(error))
    }
}

//! Quotas in place of GreenCloud's paid bundles (no payment provider is reachable): per-account
//! limits on tasks per UTC day, live tasks at once and stored code, set by admins, checked
//! against the daily usage ledger (`usage_ledger`, counted by a trigger on every task insert).
//!
//! A submission of a metered account is committed in a transaction of its own that first takes
//! the account's advisory lock, so replicas cannot both admit the last task of a quota.

mod book;
mod routes;
mod settings;
mod views;

use chrono::{Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

pub use book::QuotaBook;
pub use routes::{configure, QuotasDoc};
pub use settings::QuotaSettings;

use crate::db;
use crate::db::quotas::QuotaRow;

/// Limits that apply to one account (`None` = unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    pub tasks_per_day: Option<u32>,
    pub concurrent_tasks: Option<u32>,
    pub storage_mb: Option<u32>,
}

impl Quota {
    /// Whether submissions must be counted before they are admitted.
    pub fn meters_tasks(&self) -> bool {
        self.tasks_per_day.is_some() || self.concurrent_tasks.is_some()
    }
}

impl From<&QuotaRow> for Quota {
    fn from(row: &QuotaRow) -> Self {
        let limit = |value: Option<i32>| value.map(|v| u32::try_from(v).unwrap_or(0));
        Quota {
            tasks_per_day: limit(row.tasks_per_day),
            concurrent_tasks: limit(row.concurrent_tasks),
            storage_mb: limit(row.storage_mb),
        }
    }
}

/// Which limit a request would go past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QuotaExceeded {
    #[error("the account's quota of {limit} tasks per day (UTC) is used up")]
    TasksPerDay { limit: u32 },
    #[error("the account already has {limit} queued or running tasks, its quota")]
    ConcurrentTasks { limit: u32 },
    #[error("storing this code would take the account past its quota of {limit_mb} MB of code")]
    Storage { limit_mb: u32 },
}

impl QuotaExceeded {
    /// The quota field that was reached, as `GET /v1/user/quota` names it.
    pub fn field(&self) -> &'static str {
        match self {
            QuotaExceeded::TasksPerDay { .. } => "tasksPerDay",
            QuotaExceeded::ConcurrentTasks { .. } => "concurrentTasks",
            QuotaExceeded::Storage { .. } => "storageMb",
        }
    }

    /// When trying again can succeed: the next UTC midnight for the daily limit, soon for a
    /// live-task limit (a task may end any moment), a day for storage (code must be deleted).
    pub fn retry_after_s(&self) -> u64 {
        match self {
            QuotaExceeded::TasksPerDay { .. } => seconds_to_utc_midnight(),
            QuotaExceeded::ConcurrentTasks { .. } => 1,
            QuotaExceeded::Storage { .. } => 86_400,
        }
    }
}

fn seconds_to_utc_midnight() -> u64 {
    let now = Utc::now();
    let midnight = (now.date_naive() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .map(|at| at.and_utc());
    midnight.map_or(86_400, |at| {
        u64::try_from((at - now).num_seconds()).unwrap_or(0).max(1)
    })
}

/// Why a metered request was refused.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error(transparent)]
    Exceeded(#[from] QuotaExceeded),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Admits one more task of `account` under `quota`, in the caller's transaction (which must
/// insert the task before it ends): takes the account's lock, then counts.
pub async fn admit_task(
    conn: &mut PgConnection,
    account: Uuid,
    quota: &Quota,
) -> Result<(), QuotaError> {
    db::quotas::lock_account(conn, account).await?;
    let (today, live) = db::quotas::task_counts(conn, account).await?;
    if let Some(limit) = quota.tasks_per_day {
        if today >= i64::from(limit) {
            return Err(QuotaExceeded::TasksPerDay { limit }.into());
        }
    }
    if let Some(limit) = quota.concurrent_tasks {
        if live >= i64::from(limit) {
            return Err(QuotaExceeded::ConcurrentTasks { limit }.into());
        }
    }
    Ok(())
}

/// Admits `new_bytes` of code for `function` of `account` under `quota`, in the caller's
/// transaction (which stores the code before it ends).
pub async fn admit_code(
    conn: &mut PgConnection,
    account: Uuid,
    function: Uuid,
    quota: &Quota,
    new_bytes: usize,
) -> Result<(), QuotaError> {
    let Some(limit_mb) = quota.storage_mb else {
        return Ok(());
    };
    db::quotas::lock_account(conn, account).await?;
    let kept = db::quotas::storage_bytes(conn, account, Some(function)).await?;
    let total = kept.saturating_add(i64::try_from(new_bytes).unwrap_or(i64::MAX));
    if total > i64::from(limit_mb) * 1024 * 1024 {
        return Err(QuotaExceeded::Storage { limit_mb }.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_task_limits_meter_submissions() {
        assert!(!Quota::default().meters_tasks());
        let storage_only = Quota {
            storage_mb: Some(10),
            ..Quota::default()
        };
        assert!(!storage_only.meters_tasks());
        let daily = Quota {
            tasks_per_day: Some(0),
            ..Quota::default()
        };
        assert!(daily.meters_tasks());
    }

    #[test]
    fn the_daily_limit_retries_at_utc_midnight() {
        let seconds = QuotaExceeded::TasksPerDay { limit: 1 }.retry_after_s();
        assert!((1..=86_400).contains(&seconds), "{seconds}");
        assert_eq!(
            QuotaExceeded::ConcurrentTasks { limit: 1 }.retry_after_s(),
            1
        );
        assert_eq!(QuotaExceeded::Storage { limit_mb: 1 }.field(), "storageMb");
    }

    #[test]
    fn rows_become_limits() {
        let row = QuotaRow {
            tasks_per_day: Some(5),
            concurrent_tasks: None,
            storage_mb: Some(0),
        };
        assert_eq!(
            Quota::from(&row),
            Quota {
                tasks_per_day: Some(5),
                concurrent_tasks: None,
                storage_mb: Some(0),
            }
        );
    }
}

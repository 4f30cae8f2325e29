//! What the quota routes answer: the limits with the usage against them, and the ledger.

use chrono::{Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Quota;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Ledger days returned by default and at most.
const DEFAULT_DAYS: u32 = 30;
const MAX_DAYS: u32 = 366;

/// The limits that apply to an account and what it uses of them now.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaView {
    /// `null` = unlimited.
    pub tasks_per_day: Option<u32>,
    pub concurrent_tasks: Option<u32>,
    pub storage_mb: Option<u32>,
    /// `account` when an admin set this account's quota, `default` otherwise.
    pub source: &'static str,
    pub usage: QuotaUsage,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuotaUsage {
    /// Tasks submitted since midnight UTC.
    pub tasks_today: i64,
    /// Queued, assigned and running tasks.
    pub live_tasks: i64,
    /// Bytes of the current builds of the account's live functions.
    pub storage_bytes: i64,
}

/// Tasks submitted per UTC day, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerView {
    pub days: Vec<LedgerDayView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerDayView {
    pub day: NaiveDate,
    pub tasks: i64,
}

#[derive(Debug, Deserialize)]
pub struct LedgerQuery {
    days: Option<String>,
}

pub(super) async fn quota_view(state: &AppState, account: Uuid) -> ApiResult<QuotaView> {
    let mut conn = state.pool.acquire().await?;
    // The row itself, not the cached quota: the view says whose limits these are.
    let own = db::quotas::get(&mut conn, account).await?;
    let (tasks_today, live_tasks) = db::quotas::task_counts(&mut conn, account).await?;
    let storage_bytes = db::quotas::storage_bytes(&mut conn, account, None).await?;
    let Quota {
        tasks_per_day,
        concurrent_tasks,
        storage_mb,
    } = own.as_ref().map_or(state.quotas.defaults(), Quota::from);
    Ok(QuotaView {
        tasks_per_day,
        concurrent_tasks,
        storage_mb,
        source: if own.is_some() { "account" } else { "default" },
        usage: QuotaUsage {
            tasks_today,
            live_tasks,
            storage_bytes,
        },
    })
}

pub(super) async fn ledger_view(
    state: &AppState,
    account: Uuid,
    query: &LedgerQuery,
) -> ApiResult<LedgerView> {
    let days = match query.days.as_deref() {
        None => DEFAULT_DAYS,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|days| (1..=MAX_DAYS).contains(days))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "days",
                    format!("must be a whole number from 1 to {MAX_DAYS}"),
                )
            })?,
    };
    let since = Utc::now().date_naive() - Duration::days(i64::from(days) - 1);
    let mut conn = state.pool.acquire().await?;
    let days = db::quotas::ledger(&mut conn, account, since).await?;
    Ok(LedgerView {
        days: days
            .into_iter()
            .map(|day| LedgerDayView {
                day: day.day,
                tasks: day.tasks,
            })
            .collect(),
    })
}

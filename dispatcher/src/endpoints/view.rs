//! What the management API shows of an endpoint.

use serde::Serialize;
use utoipa::ToSchema;

use super::body::TimeLimit;
use crate::db::endpoints::{EndpointMetrics, EndpointRow};
use crate::db::tags::TagRow;

/// A tag as lists show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointTag {
    pub id: String,
    pub name: String,
    pub color: Option<String>,
}

impl From<TagRow> for EndpointTag {
    fn from(row: TagRow) -> Self {
        EndpointTag {
            id: canopy_shared::format_id(row.id),
            name: row.name,
            color: row.color,
        }
    }
}

/// The daily window as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeLimitView {
    pub from: String,
    pub to: String,
    pub timezone: String,
}

impl From<TimeLimit> for TimeLimitView {
    fn from(limit: TimeLimit) -> Self {
        TimeLimitView {
            from: limit.from,
            to: limit.to,
            timezone: limit.timezone,
        }
    }
}

/// `GET /v1/endpoint/{id}`: GreenCloud's body plus `id` and the public `url`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: String,
    pub function_id: String,
    pub description: String,
    pub tags: Vec<EndpointTag>,
    /// -1 = unlimited.
    pub daily_limit: i32,
    pub origin: Vec<String>,
    pub ip: Vec<String>,
    pub time_limit: Option<TimeLimitView>,
    /// Path of the public URL (`/gc/{id}`).
    pub url: String,
    /// RFC 3339, as GreenCloud shows endpoints.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl EndpointView {
    pub fn new(row: EndpointRow, tags: Vec<TagRow>) -> Self {
        let id = canopy_shared::format_id(row.id);
        let time_limit = match (row.time_from, row.time_to, row.time_zone) {
            (Some(from), Some(to), Some(timezone)) => Some(TimeLimitView { from, to, timezone }),
            _ => None,
        };
        EndpointView {
            url: format!("/gc/{id}"),
            id,
            function_id: canopy_shared::format_id(row.function_id),
            description: row.description,
            tags: tags.into_iter().map(EndpointTag::from).collect(),
            daily_limit: row.daily_limit,
            origin: row.origins,
            ip: row.ips,
            time_limit,
            created_at: row.created_at,
        }
    }
}

/// `GET /v1/endpoint/{id}/metrics`: GreenCloud's `todayTasks`, `pendingTasks`, `weekTasks`, and
/// what the daily limit has counted today.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointMetricsView {
    pub today_tasks: i64,
    pub pending_tasks: i64,
    pub week_tasks: i64,
    pub succeeded_tasks: i64,
    pub failed_tasks: i64,
    /// Calls counted against `dailyLimit` in the endpoint's current local day.
    pub today_calls: i64,
    pub daily_limit: i32,
}

impl EndpointMetricsView {
    pub fn new(metrics: EndpointMetrics, daily_limit: i32) -> Self {
        EndpointMetricsView {
            today_tasks: metrics.today_tasks,
            pending_tasks: metrics.pending_tasks,
            week_tasks: metrics.week_tasks,
            succeeded_tasks: metrics.succeeded_tasks,
            failed_tasks: metrics.failed_tasks,
            today_calls: metrics.today_calls,
            daily_limit,
        }
    }
}

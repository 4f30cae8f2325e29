//! What the management API shows of an endpoint.

pub use canopy_shared::api::endpoint::{
    EndpointMetricsView, EndpointTag, EndpointView, TimeLimitView,
};

use crate::db::endpoints::{EndpointMetrics, EndpointRow};
use crate::db::tags::TagRow;

impl From<TagRow> for EndpointTag {
    fn from(row: TagRow) -> Self {
        EndpointTag {
            id: canopy_shared::format_id(row.id),
            name: row.name,
            color: row.color,
        }
    }
}

/// An endpoint as the API shows it.
pub fn endpoint_view(row: EndpointRow, tags: Vec<TagRow>) -> EndpointView {
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

/// An endpoint's counters.
pub fn metrics_view(metrics: EndpointMetrics, daily_limit: i32) -> EndpointMetricsView {
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

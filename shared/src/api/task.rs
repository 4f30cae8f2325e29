//! Tasks as `GET /v1/task/{id}` and `GET /v1/task/list` show them.

use serde::{Deserialize, Serialize};

use crate::Capabilities;

/// A task: the contract's fields plus its lifecycle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub id: String,
    pub function_id: String,
    /// `queued`, `assigned`, `running`, `succeeded`, `failed`, `timed_out` or `cancelled`.
    pub status: String,
    /// The function's HTTP status, 0 until it answered.
    pub http_status: i32,
    pub attempt: i32,
    /// Unix seconds as strings (the contract's format); `assigned`/`finished` are "" until then.
    pub issued: String,
    pub assigned: String,
    pub finished: String,
    pub progress: i16,
    /// The node running (or that ran) it.
    pub node: Option<String>,
    pub timeout: i32,
    pub capabilities: Capabilities,
    pub error: Option<TaskError>,
    pub timings: TaskTimings,
    /// CPU time of the attempt that ended it, s, from its container's cgroup (null when its
    /// worker could not measure it).
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
    /// Energy attributed to that attempt, Wh (the node's power model, or RAPL): docs/energy.md.
    #[serde(default)]
    pub energy_wh: Option<f64>,
    /// Why a queued task is not running yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<String>,
    /// Deferral and grid carbon intensity (`GET /v1/task/{id}` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carbon: Option<TaskCarbon>,
}

/// A task's carbon: when it had to finish (`Prefer: defer`), until when it was held for a
/// greener window, and the grid intensity where it ran. gCO₂e = the task's Wh × intensity / 1000.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskCarbon {
    /// RFC 3339; set by `Prefer: defer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defer_until: Option<String>,
    /// RFC 3339: held (queued) until this greener window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<String>,
    /// gCO₂e/kWh at the node while its finished attempt ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intensity: Option<i32>,
    /// The task's emissions: its `energyWh` × `intensity` / 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grams_co2e: Option<f64>,
}

impl TaskView {
    /// Whether the task has ended (its status can no longer change).
    pub fn is_final(&self) -> bool {
        matches!(
            self.status.as_str(),
            "succeeded" | "failed" | "timed_out" | "cancelled"
        )
    }
}

/// Why a task failed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskError {
    /// `handler_error`, `timeout`, `lost`, `worker_error`, `execution_failed`, `oom_killed`,
    /// `function_crashed`, `response_too_large`, `deadline_exceeded` or `cancelled`.
    pub kind: String,
    pub message: String,
}

/// Where the time went, ms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskTimings {
    pub queue_ms: Option<i64>,
    pub init_ms: Option<i32>,
    pub exec_ms: Option<i32>,
    pub total_ms: Option<i64>,
    /// Whether a warm container served it.
    pub warm: Option<bool>,
}

/// An entry of the task list: the contract's `{id, issued, progress, status}` (status = the
/// function's HTTP code, 0 until finished) plus `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskSummary {
    pub id: String,
    pub issued: String,
    pub progress: i16,
    pub status: i32,
    pub state: String,
}

/// `202` body of a task whose result is not there yet (`Prefer: wait` ran out, or the result
/// endpoint while it runs); `status` is set by the result endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskPending {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

//! `GET /v1/metrics` and `GET /v1/function/{id}/metrics`: GreenCloud's metrics (pending and
//! today's tasks, node states) plus the month's count, success rate and execution time.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::path_id;
use super::stats::count_nodes;
use crate::db;
use crate::db::usage::Usage;
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(account_metrics).service(function_metrics);
}

/// The caller's figures (GreenCloud's names first).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountMetrics {
    pub pending_tasks: i64,
    pub pending_builds: i64,
    /// The caller's nodes heard from within three heartbeats.
    pub active_nodes: i64,
    pub free_nodes: i64,
    pub busy_nodes: i64,
    pub today_tasks: i64,
    pub completed_tasks: i64,
    #[serde(flatten)]
    pub month: MonthMetrics,
    #[serde(flatten)]
    pub energy: EnergyMetrics,
    /// What each of the caller's nodes spent on the tasks it ran (anyone's).
    pub node_energy: Vec<NodeEnergyMetrics>,
}

/// CPU time and energy of the tasks that reported them (all time).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnergyMetrics {
    /// Ended tasks whose worker measured their usage.
    pub measured_tasks: i64,
    /// CPU time of those tasks' containers, s.
    pub cpu_seconds: f64,
    /// Energy attributed to them, Wh (docs/energy.md).
    pub energy_wh: f64,
    /// Their emissions, gCO₂e: each task's Wh × its node's grid intensity when it ran (tasks on
    /// nodes that report no intensity count as 0; docs/carbon.md).
    pub grams_co2e: f64,
}

impl From<db::energy::EnergyTotals> for EnergyMetrics {
    fn from(totals: db::energy::EnergyTotals) -> Self {
        EnergyMetrics {
            measured_tasks: totals.measured_tasks,
            cpu_seconds: totals.cpu_seconds,
            energy_wh: totals.energy_wh,
            grams_co2e: totals.grams_co2e,
        }
    }
}

/// One node's usage.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeEnergyMetrics {
    pub hash: String,
    #[serde(flatten)]
    pub energy: EnergyMetrics,
}

/// This calendar month.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthMetrics {
    pub month_tasks: i64,
    /// Succeeded among the month's ended tasks (`null` before any ended).
    pub success_rate: Option<f64>,
    /// Time the month's tasks spent running in their containers, s (wall time, not CPU time).
    pub execution_seconds: f64,
}

impl From<&Usage> for MonthMetrics {
    fn from(usage: &Usage) -> Self {
        MonthMetrics {
            month_tasks: usage.month,
            success_rate: (usage.month_completed > 0)
                .then(|| usage.month_succeeded as f64 / usage.month_completed as f64),
            execution_seconds: usage.month_exec_ms as f64 / 1000.0,
        }
    }
}

/// One function's figures.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionMetrics {
    pub pending_tasks: i64,
    pub pending_builds: i64,
    pub today_tasks: i64,
    pub completed_tasks: i64,
    #[serde(flatten)]
    pub month: MonthMetrics,
    #[serde(flatten)]
    pub energy: EnergyMetrics,
}

/// The caller's task, build and node figures.
// The spec names the full path: `/metrics` alone is the Prometheus endpoint outside `/v1`.
#[utoipa::path(tag = "metrics", path = "/v1/metrics", security(("bearer" = [])),
    responses((status = 200, body = AccountMetrics)))]
#[get("/metrics")]
pub async fn account_metrics(
    user: AuthUser,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.acquire().await?;
    let usage = db::usage::usage(&mut conn, user.account_id, None).await?;
    let nodes = db::stats::node_states(
        &mut conn,
        Some(user.account_id),
        state.dispatch.connected_window_s(),
    )
    .await?;
    let (counts, _) = count_nodes(&nodes);
    let energy = db::energy::totals(&mut conn, user.account_id, None).await?;
    let node_energy = db::energy::by_node(&mut conn, user.account_id)
        .await?
        .into_iter()
        .map(|node| NodeEnergyMetrics {
            hash: canopy_shared::format_id(node.node_id),
            energy: EnergyMetrics {
                measured_tasks: node.measured_tasks,
                cpu_seconds: node.cpu_seconds,
                energy_wh: node.energy_wh,
                grams_co2e: node.grams_co2e,
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(AccountMetrics {
        energy: energy.into(),
        node_energy,
        pending_tasks: usage.pending,
        pending_builds: usage.pending_builds,
        active_nodes: counts.connected,
        free_nodes: counts.idle,
        busy_nodes: counts.busy,
        today_tasks: usage.today,
        completed_tasks: usage.completed,
        month: MonthMetrics::from(&usage),
    }))
}

/// One of the caller's functions' figures.
#[utoipa::path(tag = "metrics", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = FunctionMetrics), (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[get("/function/{id}/metrics")]
pub async fn function_metrics(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "FUNCTION_NOT_FOUND", "function")?;
    let mut conn = state.pool.acquire().await?;
    db::functions::find_live(&mut conn, user.account_id, id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "FUNCTION_NOT_FOUND",
                format!("no function with id {path:?}"),
            )
        })?;
    let usage = db::usage::usage(&mut conn, user.account_id, Some(id)).await?;
    let energy = db::energy::totals(&mut conn, user.account_id, Some(id)).await?;
    Ok(HttpResponse::Ok().json(FunctionMetrics {
        energy: energy.into(),
        pending_tasks: usage.pending,
        pending_builds: usage.pending_builds,
        today_tasks: usage.today,
        completed_tasks: usage.completed,
        month: MonthMetrics::from(&usage),
    }))
}

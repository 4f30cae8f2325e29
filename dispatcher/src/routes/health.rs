//! Liveness and readiness.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};

use crate::auth::secret;
use crate::db;

use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

/// Prometheus metrics of this replica (counters of the dispatch path; no secrets), and the
/// platform's task counts under the names `GET /v1/metrics` uses (`today_tasks`…). With
/// `--metrics-token` the scraper sends it as a bearer token; without one, only loopback clients
/// are answered (a local Prometheus or an SSH tunnel).
#[utoipa::path(tag = "health", responses((status = 200, description = "Prometheus text format"),
    (status = 401, description = "METRICS_TOKEN_REQUIRED"), (status = 403, description = "METRICS_LOOPBACK_ONLY")))]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    allow_scrape(&req, &state)?;
    let mut body = state
        .metrics
        .render(state.registry.len(), state.completions.len());
    let mut conn = state.pool.acquire().await?;
    let usage = db::platform_usage::platform_usage(&mut conn).await?;
    for (name, help, value) in [
        (
            "canopy_today_tasks",
            "Tasks submitted since midnight UTC (all accounts).",
            usage.today_tasks,
        ),
        (
            "canopy_month_tasks",
            "Tasks submitted this UTC month (all accounts).",
            usage.month_tasks,
        ),
        (
            "canopy_pending_tasks",
            "Queued, assigned and running tasks (all accounts).",
            usage.pending_tasks,
        ),
        (
            "canopy_pending_builds",
            "Builds not finished yet (all accounts).",
            usage.pending_builds,
        ),
    ] {
        body.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body))
}

fn allow_scrape(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    match &state.auth.metrics_token {
        Some(expected) => {
            let given = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .map(|value| value.strip_prefix("Bearer ").unwrap_or(value).trim())
                .unwrap_or_default();
            // Compare digests: equal length, no early exit on the secret's bytes.
            if secret::digest(given) == secret::digest(expected.expose()) {
                Ok(())
            } else {
                Err(ApiError::unauthorized(
                    "METRICS_TOKEN_REQUIRED",
                    "send the metrics token as `Authorization: Bearer <token>`",
                ))
            }
        }
        None if req.peer_addr().is_some_and(|addr| addr.ip().is_loopback()) => Ok(()),
        None => Err(ApiError::forbidden(
            "METRICS_LOOPBACK_ONLY",
            "without --metrics-token, /metrics answers only loopback clients",
        )),
    }
}

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The process can serve: the database answers.
#[utoipa::path(tag = "health", responses((status = 200, description = "ready"), (status = 503, description = "database unreachable")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&state.pool),
    )
    .await;
    match probe {
        Ok(Ok(_)) => Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))),
        Ok(Err(error)) => {
            tracing::warn!(error = %error, "readiness probe failed");
            Err(ApiError::unavailable("the database is not reachable"))
        }
        Err(_) => Err(ApiError::unavailable(
            "the database did not answer within 2 s",
        )),
    }
}

//! `GET /status`: what the connected nodes that may run the caller's functions offer. Serverledge
//! describes one node; Canopy's "node" is the set of workers, summed.

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::auth::Caller;
use super::FacadeError;
use crate::state::AppState;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Status {
    url: String,
    /// Connected workers that may run this account's functions (own, pooled or volunteer).
    nodes: usize,
    total_memory: u64,
    #[serde(rename = "AvailableMemMB")]
    available_mem_mb: u64,
    #[serde(rename = "TotalCPU")]
    total_cpu: u64,
    /// Tasks the workers can take right now.
    available_slots: u64,
    last_update_time: i64,
}

#[get("/status")]
pub async fn status(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, FacadeError> {
    let offers: Vec<_> = state
        .registry
        .snapshot()
        .iter()
        .filter_map(|session| session.offer())
        .filter(|offer| offer.trust.serves(caller.account_id, true))
        .collect();
    let connection = req.connection_info();
    let status = Status {
        url: format!("{}://{}", connection.scheme(), connection.host()),
        nodes: offers.len(),
        total_memory: offers
            .iter()
            .map(|o| u64::from(o.resources.memory_mb))
            .sum(),
        available_mem_mb: offers.iter().map(|o| u64::from(o.free_memory_mb)).sum(),
        total_cpu: offers.iter().map(|o| u64::from(o.resources.cpus)).sum(),
        available_slots: offers.iter().map(|o| u64::from(o.free_slots)).sum(),
        last_update_time: chrono::Utc::now().timestamp(),
    };
    Ok(HttpResponse::Ok().json(status))
}

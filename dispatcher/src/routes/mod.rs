//! HTTP routes: extract, call `db`/`domain`, map to a response. One module per resource.

mod account;
mod admin;
mod admin_views;
mod auth;
mod builds;
mod dashboard;
mod docs;
mod functions;
mod health;
mod nodes;
pub(crate) mod pages;
mod stats;
mod tags;
mod tasks;
mod usage;
mod user;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;

pub(crate) use admin::require_admin;
pub use docs::ApiDoc;
pub(crate) use tasks::create::allowed_header;
pub(crate) use tasks::replay;

/// Registers every route of the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(docs::configure)
        .configure(dashboard::configure)
        .service(
            // Routes are tried in order and each `{param}` pattern is a regex match: the hot
            // path (tasks) goes first. Prefixes never overlap, so the order changes nothing else.
            web::scope("/v1")
                .configure(tasks::configure)
                .configure(crate::gateway::configure)
                .configure(admin::configure)
                .configure(admin_views::configure)
                .configure(stats::configure)
                .configure(usage::configure)
                .configure(auth::configure)
                .configure(builds::configure)
                .configure(crate::compiles::configure)
                .configure(account::configure)
                .configure(user::configure)
                .configure(functions::configure)
                .configure(nodes::configure)
                .configure(tags::configure)
                .configure(crate::endpoints::configure_api)
                .configure(crate::triggers::configure)
                .configure(crate::schedules::configure)
                .configure(crate::history::configure)
                .configure(crate::quotas::configure),
        )
        .configure(crate::endpoints::configure_public)
        .configure(crate::serverledge::configure)
        .default_service(web::to(not_found));
}

/// Unknown paths (and unknown methods on known ones) get a problem document too.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(
        "ROUTE_NOT_FOUND",
        format!("no endpoint {} {}", req.method(), req.path()),
    ))
}

/// Parses a path id; a malformed one cannot name any resource, so it is that resource's 404.
pub(crate) fn path_id(raw: &str, code: &'static str, what: &str) -> Result<uuid::Uuid, ApiError> {
    canopy_shared::parse_id(raw)
        .ok_or_else(|| ApiError::not_found(code, format!("no {what} with id {raw:?}")))
}

/// Parses an optional id from the query string; a malformed one is a 400 naming `field`.
pub(crate) fn query_id(raw: Option<&str>, field: &str) -> Result<Option<uuid::Uuid>, ApiError> {
    raw.map(|text| {
        canopy_shared::parse_id(text)
            .ok_or_else(|| ApiError::invalid_field(field, "must be an id of 32 hex characters"))
    })
    .transpose()
}

/// `201 Created` with `{"id"}` and a `Location` header.
pub(crate) fn created(location: String, id: uuid::Uuid) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(canopy_shared::api::Created {
            id: canopy_shared::format_id(id),
        })
}

/// Created-at as the contract shows it in lists: Unix seconds as a string.
pub(crate) fn unix_string(at: chrono::DateTime<chrono::Utc>) -> String {
    at.timestamp().to_string()
}

//! Public endpoints (GreenCloud's `/gc/{id}`): a function published at an unguessable URL that
//! anyone may call, within its owner's limits. The owner manages them under `/v1/endpoint`
//! (`manage`); callers use `/gc` (`call`, `result`). Every call is a task through
//! `crate::tasks::submit`. See docs/endpoints.md.

mod body;
mod call;
mod limiter;
mod manage;
mod policy;
mod result;
mod settings;
mod view;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

pub use limiter::Limiter;
pub(crate) use manage::owned_tags;
pub use settings::EndpointSettings;

/// What the public routes share: their settings and rate limits.
#[derive(Debug)]
pub struct Public {
    pub settings: EndpointSettings,
    pub limiter: Limiter,
}

impl Public {
    pub fn new(settings: EndpointSettings) -> Self {
        let limiter = Limiter::new(
            settings.rate_per_client,
            settings.burst_per_client,
            settings.rate_per_endpoint,
            settings.burst_per_endpoint,
        );
        Public { settings, limiter }
    }
}

/// Registers `/endpoint/*` inside the `/v1` scope.
pub fn configure_api(cfg: &mut web::ServiceConfig) {
    // `list` before `{id}` so "list" is never taken for an id.
    cfg.service(manage::list_endpoints)
        .service(manage::create_endpoint)
        .service(manage::edit_endpoint)
        .service(manage::get_endpoint)
        .service(manage::delete_endpoint)
        .service(manage::endpoint_metrics);
}

/// Registers `/gc/*` at the root.
pub fn configure_public(cfg: &mut web::ServiceConfig) {
    cfg.service(result::public_result)
        .service(call::call_endpoint)
        .service(call::endpoint_page)
        .service(call::preflight);
}

/// Lets browsers on the allowed origins read the answer: any origin when the endpoint lists
/// none, else the request's origin when it is listed.
fn cors(response: &mut HttpResponse, origins: &[String], origin: Option<&str>) {
    let headers = response.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Location, Retry-After, X-Canopy-Task-Status"),
    );
    let allowed = if origins.is_empty() {
        Some(HeaderValue::from_static("*"))
    } else {
        origin
            .and_then(body::normalise_origin)
            .filter(|origin| origins.contains(origin))
            .and_then(|origin| HeaderValue::from_str(&origin).ok())
    };
    if let Some(value) = allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
}

/// The OpenAPI paths of this module.
#[derive(OpenApi)]
#[openapi(
    paths(
        manage::create_endpoint,
        manage::edit_endpoint,
        manage::get_endpoint,
        manage::delete_endpoint,
        manage::list_endpoints,
        manage::endpoint_metrics,
        call::call_endpoint,
        call::endpoint_page,
        result::public_result,
    ),
    components(schemas(
        body::EndpointBody,
        body::TimeLimit,
        view::EndpointView,
        view::EndpointMetricsView
    ))
)]
pub struct EndpointsDoc;

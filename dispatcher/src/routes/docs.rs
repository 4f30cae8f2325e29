//! The API reference: OpenAPI 3.1 generated from the handlers at `/openapi.json`, rendered at
//! `/docs` by a self-contained page (no CDN, so it works offline).

use actix_web::{get, web, HttpResponse};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    account, admin, admin_views, auth, builds, functions, health, nodes, stats, tags, tasks, usage,
    user,
};

/// The generated OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Canopy API", description = "Functions on volunteers' machines. GreenCloud-compatible function API."),
    paths(
        health::healthz, health::readyz, health::metrics,
        auth::register::register, auth::register::activate, auth::login::login, auth::login::refresh,
        auth::login::api_key_login, auth::logout::logout, auth::twofa::start_twofa, auth::twofa::verify_twofa, auth::twofa::disable_twofa,
        user::get_user, user::change_password, user::list_api_keys, user::create_api_key, user::rotate_api_key,
        user::revoke_api_key,
        functions::create::create_function, functions::read::get_function, functions::read::list_functions,
        functions::read::get_capabilities, functions::update::edit_function, functions::update::toggle_pause,
        functions::update::delete_function, functions::update::restore_function, functions::update::set_capabilities, functions::verification::get_verification, functions::verification::set_verification,
        functions::prewarm::prewarm_function, usage::account_metrics, usage::function_metrics,
        account::get_flags, account::set_flags, account::request_reset, account::confirm_reset,
        account::delete_account,
        tags::create_tag, tags::list_tags, tags::update_tag, tags::delete_tag,
        builds::create_build, builds::get_build, builds::list_builds,
        tasks::create::create_task, tasks::read::get_task, tasks::attempts::list_attempts, tasks::votes::list_votes, tasks::read::list_tasks, tasks::search::search_tasks, tasks::retry::retry_task, tasks::result::get_result,
        tasks::result::cancel_task,
        nodes::register_node, nodes::list_nodes, nodes::delete_node, nodes::restore_node, nodes::set_volunteer,
        admin::create_pool, admin::list_pools, admin::set_pool_members, admin::delete_pool, admin::approve_privileged,
        admin_views::list_accounts, admin_views::set_account_disabled, admin_views::system_health, stats::overview, stats::node_outcomes,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth, &VersionPrefix)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Handlers are declared relative to the `/v1` scope; the spec shows full paths.
struct VersionPrefix;

impl Modify for VersionPrefix {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let paths = std::mem::take(&mut openapi.paths.paths);
        openapi.paths.paths = paths
            .into_iter()
            .map(|(path, item)| match path.as_str() {
                "/healthz" | "/readyz" | "/metrics" => (path, item),
                _ if path.starts_with("/v1/") => (path, item),
                _ => (format!("/v1{path}"), item),
            })
            .collect();
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::Data::new(render_spec()))
        .service(openapi_json)
        .service(docs_page);
}

fn render_spec() -> String {
    let mut spec = ApiDoc::openapi();
    spec.merge(crate::endpoints::EndpointsDoc::openapi());
    spec.merge(crate::triggers::TriggersDoc::openapi());
    spec.merge(crate::schedules::SchedulesDoc::openapi());
    spec.merge(crate::history::HistoryDoc::openapi());
    spec.merge(crate::quotas::QuotasDoc::openapi());
    spec.to_pretty_json()
        .unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"))
}

/// The OpenAPI 3.1 document.
#[get("/openapi.json")]
async fn openapi_json(spec: web::Data<String>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(spec.get_ref().clone())
}

/// A readable reference rendered from `/openapi.json`.
#[get("/docs")]
async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(include_str!("docs.html"))
}

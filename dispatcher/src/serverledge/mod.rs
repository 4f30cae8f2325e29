//! The Serverledge facade: Serverledge's node API (`../shared/seeds/serverledge-api.txt`) served
//! at the root paths, so unchanged Serverledge clients run their functions on Canopy. Each endpoint
//! is a thin translation onto what the GreenCloud API uses: functions and builds
//! (`crate::builds`), and tasks through `crate::tasks`. Errors keep Serverledge's `text/plain`
//! bodies and status codes; `X-Canopy-Error-Code` adds a stable code. See docs/serverledge.md.

mod auth;
mod body;
mod create;
mod custom;
mod delete;
mod error;
mod invoke;
mod list;
mod poll;
mod prewarm;
mod report;
mod runtime;
mod settings;
mod status;

use actix_web::web;

pub use error::FacadeError;
pub use settings::ServerledgeSettings;

/// Registers the facade's routes (at the root of whichever listener serves them).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(invoke::invoke)
        .service(poll::poll)
        .service(create::create)
        .service(delete::delete)
        .service(prewarm::prewarm)
        .service(list::list)
        .service(list::list_plural)
        .service(status::status);
}

/// Unknown paths on the facade's own listener, in its text style.
pub async fn not_found(
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, FacadeError> {
    Err(FacadeError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        format!("No endpoint {} {}", req.method(), req.path()),
    ))
}

/// A request id: the function's name and the task's id, as Serverledge's `<function>-<suffix>`.
/// Only the task id matters when it comes back; it is random, so ids cannot be guessed.
fn request_id(function: &str, task: uuid::Uuid) -> String {
    format!("{function}-{}", canopy_shared::format_id(task))
}

/// The task id inside a request id (or a bare task id).
fn task_of_request(request_id: &str) -> Option<uuid::Uuid> {
    let tail = request_id.rsplit('-').next().unwrap_or(request_id);
    canopy_shared::parse_id(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_carry_the_task_id_whatever_the_function_name() {
        let task = canopy_shared::new_id();
        for name in ["isprime", "my-fn-2", "a"] {
            assert_eq!(task_of_request(&request_id(name, task)), Some(task));
        }
        assert_eq!(task_of_request(&canopy_shared::format_id(task)), Some(task));
        assert_eq!(task_of_request("isprime-98330239242748"), None);
        assert_eq!(task_of_request(""), None);
    }
}

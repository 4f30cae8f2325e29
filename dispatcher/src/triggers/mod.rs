//! Triggers (GreenCloud's chaining): when a task of the source function ends with the given
//! HTTP status, a task of the next function is submitted, exactly once per source task, also
//! across replicas and restarts. `manage` serves `/v1/trigger`; `fire` submits the tasks.
//! See docs/endpoints.md.

mod body;
mod fire;
mod manage;
mod settings;

use std::sync::Arc;

use actix_web::web;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub use fire::run_once;
pub use settings::TriggerSettings;

use crate::state::AppState;

/// Wakes this replica's firing loop (on the database's `canopy_firings` notification).
#[derive(Debug, Default)]
pub struct Wake(Notify);

impl Wake {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    async fn notified(&self) {
        self.0.notified().await;
    }
}

/// Starts the firing loop; it stops when `shutdown` is cancelled.
pub fn spawn(state: &Arc<AppState>, settings: TriggerSettings, shutdown: &CancellationToken) {
    tokio::spawn(fire::run(Arc::clone(state), settings, shutdown.clone()));
}

/// Registers `/trigger/*` inside the `/v1` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // `list` before `{id}` so "list" is never taken for an id.
    cfg.service(manage::list_triggers)
        .service(manage::create_trigger)
        .service(manage::edit_trigger)
        .service(manage::get_trigger)
        .service(manage::delete_trigger);
}

/// The OpenAPI paths of this module.
#[derive(OpenApi)]
#[openapi(
    paths(
        manage::create_trigger,
        manage::edit_trigger,
        manage::get_trigger,
        manage::delete_trigger,
        manage::list_triggers,
    ),
    components(schemas(body::CreateTrigger, body::UpdateTrigger, manage::TriggerView))
)]
pub struct TriggersDoc;

//! Schedules (GreenCloud's draft `/v1/scheduled`): a function run on a five-field cron in an
//! IANA timezone, with a stored payload. `manage` serves the API; `ticks` runs them, once per
//! tick across replicas. See docs/endpoints.md.

mod cron;
mod manage;
mod settings;
mod ticks;

use std::sync::Arc;

use actix_web::web;
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;

pub use cron::Cron;
pub use settings::ScheduleSettings;
pub use ticks::{next_tick, run_once};

use crate::state::AppState;

/// Starts the schedule loop; it stops when `shutdown` is cancelled.
pub fn spawn(state: &Arc<AppState>, settings: ScheduleSettings, shutdown: &CancellationToken) {
    tokio::spawn(ticks::run(Arc::clone(state), settings, shutdown.clone()));
}

/// Registers `/scheduled/*` inside the `/v1` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // `list` before `{id}` so "list" is never taken for an id.
    cfg.service(manage::list_schedules)
        .service(manage::create_schedule)
        .service(manage::edit_schedule)
        .service(manage::get_schedule)
        .service(manage::delete_schedule)
        .service(manage::set_payload)
        .service(manage::try_schedule);
}

/// The OpenAPI paths of this module.
#[derive(OpenApi)]
#[openapi(
    paths(
        manage::create_schedule,
        manage::edit_schedule,
        manage::get_schedule,
        manage::delete_schedule,
        manage::list_schedules,
        manage::set_payload,
        manage::try_schedule,
    ),
    components(schemas(manage::CreateSchedule, manage::UpdateSchedule, manage::ScheduleView))
)]
pub struct SchedulesDoc;

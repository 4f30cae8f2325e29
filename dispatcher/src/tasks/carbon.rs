//! The task core's carbon: when a deferrable task may start (`hold_until`, the policy's
//! `defer` over the forecasts of the workers that could run it) and the grid intensity each
//! finished attempt ran at (`record_intensities`).

use std::sync::Arc;

use canopy_shared::carbon::Forecast;
use canopy_shared::matching::{check, fits_now, Requirements, DEFAULT_RENEWABLE_THRESHOLD};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db;
use crate::dispatch::carbon::unix_now;
use crate::dispatch::policy::{defer, Deferral, DeferralRequest, NodeForecast};
use crate::dispatch::{Metrics, SessionHandle};
use crate::state::AppState;

/// When a task that must finish by `finish_by` should start: `Some(t)` holds it until `t` (a
/// window the forecasts say is greener), `None` lets it run now. Only workers connected to this
/// replica that could run the task count; a renewable-only one counts only while its forecast is
/// under its threshold.
pub(super) fn hold_until(
    state: &AppState,
    requirements: &Requirements,
    finish_by: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let usable: Vec<(Forecast, u32)> = state
        .registry
        .snapshot()
        .iter()
        .filter_map(|session| usable_forecast(session, requirements))
        .collect();
    let nodes: Vec<NodeForecast<'_>> = usable
        .iter()
        .map(|(forecast, slots)| NodeForecast {
            forecast,
            slots: *slots,
        })
        .collect();
    let settings = &state.dispatch.carbon;
    let now = unix_now();
    let request = DeferralRequest {
        now,
        deadline: finish_by.timestamp(),
        run_s: i64::from(requirements.capabilities.timeout),
        slack_s: i64::from(settings.defer_slack_s),
        min_gain_percent: settings.defer_min_gain_percent,
        now_intensity: greenest_with_room(state, requirements),
    };
    let booked = |window: i64| state.deferrals.count(window);
    match defer(&request, &nodes, &booked) {
        Deferral::RunNow => None,
        Deferral::Wait {
            until,
            window,
            expected,
            current,
        } => {
            state.deferrals.book(window, now);
            Metrics::incr(&state.metrics.tasks_deferred);
            tracing::debug!(until, expected, current, "task held for a greener window");
            DateTime::from_timestamp(until, 0)
        }
    }
}

/// Where the task would run now: the greenest intensity among this replica's workers with credits
/// that fit it.
fn greenest_with_room(state: &AppState, requirements: &Requirements) -> Option<u32> {
    state
        .registry
        .ready()
        .iter()
        .filter(|session| {
            session
                .offer()
                .is_some_and(|offer| fits_now(requirements, &offer))
        })
        .filter_map(|session| session.carbon_intensity())
        .min()
}

/// The session's forecast and slots if it could run the task when idle; a renewable-only node's
/// points above its threshold count as unusable.
fn usable_forecast(
    session: &SessionHandle,
    requirements: &Requirements,
) -> Option<(Forecast, u32)> {
    let mut offer = session.offer()?;
    offer.free_memory_mb = offer.resources.memory_mb;
    offer.free_slots = 1;
    let rule = offer.resources.energy.as_mut().and_then(|energy| {
        let threshold = energy.renewable_only.then(|| {
            energy
                .renewable_threshold
                .unwrap_or(DEFAULT_RENEWABLE_THRESHOLD)
        });
        energy.renewable_only = false;
        threshold
    });
    check(requirements, &offer).ok()?;
    let forecast = session.carbon_forecast();
    if forecast.is_empty() {
        return None;
    }
    let forecast = match rule {
        Some(threshold) => forecast.map_intensity(|g| if g > threshold { u32::MAX } else { g }),
        None => forecast,
    };
    Some((forecast, offer.resources.max_concurrency))
}

/// Records the grid intensity at the node of each finished attempt (one statement; none when
/// no node reports an intensity).
pub(super) async fn record_intensities<'a>(
    conn: &mut PgConnection,
    finished: impl Iterator<Item = (Uuid, i32, &'a Arc<SessionHandle>)>,
) -> sqlx::Result<()> {
    let (mut tasks, mut attempts, mut intensities) = (Vec::new(), Vec::new(), Vec::new());
    for (task, attempt, session) in finished {
        if let Some(intensity) = session.carbon_intensity() {
            tasks.push(task);
            attempts.push(attempt);
            intensities.push(i32::try_from(intensity).unwrap_or(i32::MAX));
        }
    }
    if !tasks.is_empty() {
        db::carbon::record_intensities(conn, &tasks, &attempts, &intensities).await?;
    }
    Ok(())
}

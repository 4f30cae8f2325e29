//! SQL only. Every function takes `&mut PgConnection`, so handlers can compose several in one
//! transaction. Rows are plain structs; domain rules live in `domain/`.

pub mod account_settings;
pub mod accounts;
pub mod admin_views;
pub mod api_keys;
pub mod assignments;
pub mod attempts;
pub mod builds;
pub mod carbon;
pub mod compiles;
pub mod endpoints;
pub mod energy;
pub mod functions;
pub mod history;
pub mod idempotency;
pub mod images;
pub mod leases;
pub mod login_failures;
pub mod nodes;
pub mod owner_pause;
pub mod platform_usage;
pub mod prewarms;
pub mod quotas;
pub mod refresh_tokens;
pub mod reports;
pub mod requeue;
pub mod revocations;
pub mod schedules;
pub mod secrets;
pub mod serverledge;
pub mod stats;
pub mod submissions;
pub mod tags;
pub mod task_retry;
pub mod task_search;
pub mod tasks;
pub mod triggers;
pub mod trust;
pub mod usage;
pub mod votes;

use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// Connects a pool and applies pending migrations.
pub async fn connect_and_migrate(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url.parse().context("while parsing the database URL")?;
    let pool = pool_options(max_connections)
        .connect_with(options)
        .await
        .context("while connecting to PostgreSQL")?;
    sqlx::migrate!("../migrations")
        .run(&pool)
        .await
        .context("while applying database migrations")?;
    Ok(pool)
}

/// A small pool for the batched writes that find tasks by id (worker reports, lease renewals):
/// its connections plan every statement for its actual arguments instead of reusing a cached
/// generic plan. A plan cached while `tasks` was nearly empty (a fresh database) hash-joins a
/// scan of the whole table, or of a status-partial index, and keeps doing so as the table
/// grows; and a partial index's dead entries (every ended task until vacuum) are invisible to
/// the planner's estimates. Those statements also write their status test as `(…) IS TRUE`,
/// which the planner cannot match to a partial index's predicate, so the primary key is the
/// only index left to them. Connects lazily, with the main pool's options.
pub fn batch_pool(pool: &PgPool) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .options([("plan_cache_mode", "force_custom_plan")]);
    pool_options(BATCH_CONNECTIONS).connect_lazy_with(options)
}

fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // A ping per checkout would add a round trip to every group commit; a broken connection
        // fails its statement and is replaced instead.
        .test_before_acquire(false)
}

/// The report writer and the heartbeat writer, with room for a replacement.
const BATCH_CONNECTIONS: u32 = 3;

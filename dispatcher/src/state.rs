//! The one application state: built once at start, shared by routes (as `web::Data`), the
//! worker gateway and the background loops.

use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::api_keys::ApiKeyCache;
use crate::auth::jwt::TokenKeys;
use crate::auth::mailer::Mailer;
use crate::auth::revocations::Revocations;
use crate::dispatch::{CarbonFeeds, Completions, Metrics, Prewarms, Registry};
use crate::gates::Gates;
use crate::quotas::{Quota, QuotaBook};
use crate::settings::{AuthSettings, DispatchSettings};
use crate::tasks::{FunctionSnapshots, Queues, Scheduler, TaskQueues};

/// Shared application state.
#[derive(Debug)]
pub struct AppState {
    pub pool: PgPool,
    /// Worker reports and lease renewals (`db::batch_pool`).
    pub batch_pool: PgPool,
    pub tokens: TokenKeys,
    /// Logins and API keys whose access tokens are refused before they expire.
    pub revocations: Revocations,
    /// API keys presented directly (the Serverledge facade), briefly remembered.
    pub api_keys: ApiKeyCache,
    pub mailer: Mailer,
    pub auth: AuthSettings,
    pub dispatch: DispatchSettings,
    /// This replica, in `replicas` and on the nodes whose sockets it holds.
    pub replica_id: Uuid,
    /// Workers connected to this replica.
    pub registry: Registry,
    /// `Prefer: wait` callers and `/result?wait=` long-polls.
    pub completions: Completions,
    /// Prewarm requests waiting for their workers' answers.
    pub prewarms: Prewarms,
    pub metrics: Metrics,
    pub scheduler: Scheduler,
    /// Senders of the group commit and the worker-report writer.
    pub queues: TaskQueues,
    /// Function snapshots the group commit remembers (re-checked by every insert).
    pub snapshots: FunctionSnapshots,
    /// Bounds on uploads and artifact downloads running at once.
    pub gates: Gates,
    /// Wakes the loop that submits triggered tasks.
    pub triggers: crate::triggers::Wake,
    /// Each account's quota (the defaults until `with_quota_defaults`).
    pub quotas: QuotaBook,
    /// Carbon intensity of the grid zones this dispatcher polls.
    pub carbon_feeds: CarbonFeeds,
    /// Deferrable tasks held per greener window.
    pub deferrals: crate::dispatch::carbon::Bookings,
}

impl AppState {
    /// The state, and the receiving ends of its queues for `tasks::spawn_loops`.
    pub fn new(
        pool: PgPool,
        tokens: TokenKeys,
        mailer: Mailer,
        auth: AuthSettings,
        dispatch: DispatchSettings,
    ) -> (AppState, Queues) {
        let (queues, receivers) = TaskQueues::new();
        let gates = Gates::new(&dispatch);
        let state = AppState {
            batch_pool: crate::db::batch_pool(&pool),
            pool,
            tokens,
            revocations: Revocations::default(),
            api_keys: ApiKeyCache::default(),
            mailer,
            auth,
            dispatch,
            replica_id: canopy_shared::new_id(),
            registry: Registry::default(),
            completions: Completions::default(),
            prewarms: Prewarms::default(),
            metrics: Metrics::default(),
            scheduler: Scheduler::default(),
            queues,
            snapshots: FunctionSnapshots::default(),
            gates,
            triggers: crate::triggers::Wake::default(),
            quotas: QuotaBook::default(),
            carbon_feeds: CarbonFeeds::default(),
            deferrals: Default::default(),
        };
        (state, receivers)
    }

    /// The state with `defaults` as the quota of accounts without their own.
    pub fn with_quota_defaults(mut self, defaults: Quota) -> Self {
        self.quotas = QuotaBook::new(defaults);
        self
    }

    /// Attempts before a task fails for good (as the database's integer).
    pub fn max_attempts(&self) -> i32 {
        i32::try_from(self.dispatch.max_attempts).unwrap_or(i32::MAX)
    }

    /// Lease of an assignment, ms (as the database's integer).
    pub fn lease_ms(&self) -> i64 {
        i64::try_from(self.dispatch.lease_ms).unwrap_or(i64::MAX)
    }
}

//! Task counters of an account (or one of its functions) for `GET /v1/metrics` and
//! `GET /v1/function/{id}/metrics`.

use sqlx::PgConnection;
use uuid::Uuid;

/// Counters; "month" is the calendar month so far (the database's time zone).
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub today: i64,
    pub month: i64,
    pub pending: i64,
    pub completed: i64,
    pub month_succeeded: i64,
    pub month_completed: i64,
    pub month_exec_ms: i64,
    pub pending_builds: i64,
}

/// The account's counters, or one function's when `function` is given.
pub async fn usage(
    conn: &mut PgConnection,
    account: Uuid,
    function: Option<Uuid>,
) -> sqlx::Result<Usage> {
    sqlx::query_as!(
        Usage,
        r#"SELECT
             count(*) FILTER (WHERE t.issued_at >= date_trunc('day', now())) AS "today!",
             count(*) FILTER (WHERE t.issued_at >= date_trunc('month', now())) AS "month!",
             count(*) FILTER (WHERE t.status IN ('queued', 'assigned', 'running')) AS "pending!",
             count(*) FILTER (WHERE t.status IN ('succeeded', 'failed', 'timed_out')) AS "completed!",
             count(*) FILTER (WHERE t.status = 'succeeded' AND t.issued_at >= date_trunc('month', now())) AS "month_succeeded!",
             count(*) FILTER (WHERE t.status IN ('succeeded', 'failed', 'timed_out')
                                AND t.issued_at >= date_trunc('month', now())) AS "month_completed!",
             coalesce(sum(t.exec_ms) FILTER (WHERE t.issued_at >= date_trunc('month', now())), 0)::bigint AS "month_exec_ms!",
             (SELECT count(*) FROM builds b
               WHERE b.account_id = $1 AND b.status = 'PENDING' AND ($2::uuid IS NULL OR b.function_id = $2)) AS "pending_builds!"
           FROM tasks t
           WHERE t.account_id = $1 AND ($2::uuid IS NULL OR t.function_id = $2)"#,
        account,
        function
    )
    .fetch_one(conn)
    .await
}

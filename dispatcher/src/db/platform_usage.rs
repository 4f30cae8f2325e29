//! Platform-wide task and build counts for Prometheus, from the daily ledger and the live-task
//! index, so a scrape never walks the task history.

use sqlx::PgConnection;

#[derive(Debug, Clone, Copy, Default)]
pub struct PlatformUsage {
    pub today_tasks: i64,
    pub month_tasks: i64,
    pub pending_tasks: i64,
    pub pending_builds: i64,
}

pub async fn platform_usage(conn: &mut PgConnection) -> sqlx::Result<PlatformUsage> {
    sqlx::query_as!(
        PlatformUsage,
        r#"SELECT
             (SELECT coalesce(sum(tasks), 0)::bigint FROM usage_ledger
               WHERE day = (now() AT TIME ZONE 'UTC')::date) AS "today_tasks!",
             (SELECT coalesce(sum(tasks), 0)::bigint FROM usage_ledger
               WHERE day >= date_trunc('month', now() AT TIME ZONE 'UTC')::date) AS "month_tasks!",
             (SELECT count(*) FROM tasks WHERE status IN ('queued', 'assigned', 'running')) AS "pending_tasks!",
             (SELECT count(*) FROM builds WHERE status = 'PENDING') AS "pending_builds!""#
    )
    .fetch_one(conn)
    .await
}

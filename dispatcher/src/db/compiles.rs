//! Compile jobs: a `PENDING` build with a source package, offered to one node at a time.

use sqlx::PgConnection;
use uuid::Uuid;

/// An open compile job.
#[derive(Debug, Clone)]
pub struct CompileJobRow {
    pub build_id: Uuid,
    pub account_id: Uuid,
    pub lang: String,
    pub source_sha256: String,
    /// The node it was last offered to.
    pub compile_node_id: Option<Uuid>,
    /// Whether that offer is younger than the job's time limit (the node may still be at it).
    pub offer_live: bool,
    /// Whether that node is connected to another replica (seen within the connected window).
    pub node_elsewhere: bool,
    pub compile_attempts: i32,
}

/// Marks a just-inserted `PENDING` build as a compile job of its source package.
pub async fn open_job(
    conn: &mut PgConnection,
    build: Uuid,
    source_sha256: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE builds SET source_sha256 = $2 WHERE id = $1 AND status = 'PENDING'",
        build,
        source_sha256
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Open jobs, oldest offer first; an offer older than `offer_s` seconds counts as lost, and so
/// does one whose node is connected neither to `replica` (the caller checks its own sockets) nor,
/// seen within `connected_s`, to another replica.
pub async fn open_jobs(
    conn: &mut PgConnection,
    offer_s: f64,
    limit: i64,
    replica: Uuid,
    connected_s: f64,
) -> sqlx::Result<Vec<CompileJobRow>> {
    sqlx::query_as!(
        CompileJobRow,
        r#"SELECT b.id AS build_id, b.account_id, f.lang, b.source_sha256 AS "source_sha256!",
                  b.compile_node_id, b.compile_attempts,
                  (b.compile_offered_at IS NOT NULL
                   AND b.compile_offered_at > now() - make_interval(secs => $1)) AS "offer_live!",
                  EXISTS (SELECT 1 FROM nodes n
                          WHERE n.id = b.compile_node_id AND n.session_id IS NOT NULL
                            AND n.replica_id IS DISTINCT FROM $3
                            AND n.last_seen_at > now() - make_interval(secs => $4)) AS "node_elsewhere!"
           FROM builds b JOIN functions f ON f.id = b.function_id
           WHERE b.status = 'PENDING' AND b.source_sha256 IS NOT NULL
           ORDER BY b.compile_offered_at NULLS FIRST, b.id LIMIT $2"#,
        offer_s,
        limit,
        replica,
        connected_s
    )
    .fetch_all(conn)
    .await
}

/// Gives the job to `node`, unless someone else changed it since it was read (the fence:
/// the same attempt count). False when it was not given.
pub async fn offer(
    conn: &mut PgConnection,
    build: Uuid,
    node: Uuid,
    seen_attempts: i32,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE builds SET compile_node_id = $2, compile_offered_at = now(),
                compile_attempts = compile_attempts + 1, updated_at = now()
         WHERE id = $1 AND status = 'PENDING' AND compile_attempts = $3",
        build,
        node,
        seen_attempts
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A job as its node's report sees it.
#[derive(Debug, Clone)]
pub struct JobState {
    pub status: String,
    pub compile_node_id: Option<Uuid>,
    pub account_id: Uuid,
    pub function_id: Uuid,
}

pub async fn job_state(conn: &mut PgConnection, build: Uuid) -> sqlx::Result<Option<JobState>> {
    sqlx::query_as!(
        JobState,
        "SELECT status, compile_node_id, account_id, function_id FROM builds
         WHERE id = $1 AND source_sha256 IS NOT NULL",
        build
    )
    .fetch_optional(conn)
    .await
}

/// Ends the job: the build is `status` (`SUCCESS` with the compiled package as what its tasks
/// run, or `FAILED`), with `log` appended. Only the node holding the job may end it, once.
pub async fn finish(
    conn: &mut PgConnection,
    build: Uuid,
    node: Uuid,
    status: &str,
    compiled_sha256: Option<&str>,
    log: &[String],
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE builds SET status = $3, artifact_sha256 = COALESCE($4, artifact_sha256),
                log = log || $5::text[],
                timeline = timeline || jsonb_build_array(jsonb_build_object('status', $3::text, 'time', now())),
                updated_at = now()
         WHERE id = $1 AND status = 'PENDING' AND compile_node_id = $2",
        build,
        node,
        status,
        compiled_sha256,
        log
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

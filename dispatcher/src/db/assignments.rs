//! The claim path: queued tasks locked for a node and moved to `assigned` with a lease, and the
//! fencing read that tells a stale worker message from a forged one.

use sqlx::PgConnection;
use uuid::Uuid;

/// A queued task that might fit a node (locked until the transaction ends).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: Uuid,
    pub account_id: Uuid,
    pub lang: String,
    pub timeout_s: i32,
    pub cpu_count: i32,
    pub mem_size_mb: i32,
    pub network_latency_ms: i32,
    pub privileged: bool,
    pub volunteers: bool,
    /// The function runs in a custom image.
    pub custom_image: bool,
}

/// Whose queued tasks a node may claim: those of `accounts` (its owner and pool partners),
/// and, when `volunteer`, those of functions that allow volunteers; never a task under
/// verification that a node of the same `owner` already ran.
#[derive(Debug, Clone, Copy)]
pub struct Serving<'a> {
    pub owner: Uuid,
    pub accounts: &'a [Uuid],
    pub volunteer: bool,
    /// The node allows custom images (else their functions' tasks are not its to claim).
    pub custom_images: bool,
}

/// Queued tasks of unpaused functions in a runtime the node has and that it may run, highest
/// priority and oldest first, skipping rows another replica is claiming.
pub async fn lock_candidates(
    conn: &mut PgConnection,
    langs: &[String],
    serving: Serving<'_>,
    limit: i64,
) -> sqlx::Result<Vec<Candidate>> {
    sqlx::query_as!(
        Candidate,
        r#"SELECT t.id, t.account_id, t.lang, t.timeout_s, t.cpu_count, t.mem_size_mb, t.network_latency_ms,
                t.privileged, t.volunteers, f.image IS NOT NULL AS "custom_image!"
         FROM tasks t JOIN functions f ON f.id = t.function_id
         WHERE t.status = 'queued' AND NOT f.paused AND f.deleted_at IS NULL
           AND (CASE WHEN f.image IS NULL THEN t.lang = ANY($1) ELSE $5 END)
           AND (t.account_id = ANY($3) OR ($4 AND t.volunteers))
           AND (t.not_before IS NULL OR t.not_before <= now())
           AND (t.deadline IS NULL OR t.deadline > now())
           AND NOT ($6::uuid = ANY(t.voter_owners))
         ORDER BY t.priority DESC, t.issued_at
         LIMIT $2
         FOR UPDATE OF t SKIP LOCKED"#,
        langs,
        limit,
        serving.accounts,
        serving.volunteer,
        serving.custom_images,
        serving.owner
    )
    .fetch_all(conn)
    .await
}

/// An assigned task with everything the worker needs.
#[derive(Debug, Clone)]
pub struct Assigned {
    pub id: Uuid,
    pub attempt: i32,
    pub function_id: Uuid,
    pub build_id: Uuid,
    pub lang: String,
    pub timeout_s: i32,
    pub cpu_count: i32,
    pub mem_size_mb: i32,
    pub network_latency_ms: i32,
    pub privileged: bool,
    pub volunteers: bool,
    pub request_method: String,
    pub request_query: String,
    pub request_headers: serde_json::Value,
    pub request_content_type: Option<String>,
    pub request_body: Vec<u8>,
    pub artifact_sha256: String,
    pub artifact_size: i64,
    pub image: Option<String>,
    pub image_pin: Option<String>,
    /// Its result is a vote (k-of-n verification), never handed to a waiter before it is counted.
    pub quorum: i16,
    /// Seconds from issue to this assignment (the queue wait).
    pub queued_s: f64,
}

/// Moves locked candidates to `assigned` on `node_id` with a lease.
pub async fn assign(
    conn: &mut PgConnection,
    ids: &[Uuid],
    node_id: Uuid,
    session_id: Uuid,
    lease_ms: i64,
) -> sqlx::Result<Vec<Assigned>> {
    sqlx::query_as!(
        Assigned,
        r#"UPDATE tasks t SET status = 'assigned', node_id = $2, session_id = $4, assigned_at = clock_timestamp(),
                  lease_expires_at = now() + make_interval(secs => $3::float8 / 1000)
           FROM builds b JOIN artifacts a ON a.sha256 = b.artifact_sha256, functions f
           WHERE t.id = ANY($1) AND t.status = 'queued' AND b.id = t.build_id AND f.id = t.function_id
           RETURNING t.id, t.attempt, t.function_id, t.build_id, t.lang, t.timeout_s, t.cpu_count, t.mem_size_mb,
                     t.network_latency_ms, t.privileged, t.volunteers, t.request_method, t.request_query, t.request_headers,
                     t.request_content_type, t.request_body, a.sha256 AS artifact_sha256, a.size_bytes AS artifact_size,
                     f.image, f.image_pin, t.quorum,
                     extract(epoch FROM clock_timestamp() - t.issued_at)::float8 AS "queued_s!""#,
        ids,
        node_id,
        lease_ms as f64,
        session_id
    )
    .fetch_all(conn)
    .await
}

/// The current attempt of a task and the node it is on, to tell a stale message from a forged one.
pub async fn current_attempt(
    conn: &mut PgConnection,
    id: Uuid,
) -> sqlx::Result<Option<(i32, Option<Uuid>)>> {
    let row = sqlx::query!("SELECT attempt, node_id FROM tasks WHERE id = $1", id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|row| (row.attempt, row.node_id)))
}

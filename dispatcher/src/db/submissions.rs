//! The group commit's SQL: function snapshots for a batch of submissions, and the batch's
//! tasks in one multi-row insert.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// What a task snapshots of its function when it is issued.
#[derive(Debug, Clone)]
pub struct FunctionSnapshotRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub lang: String,
    pub timeout_s: i32,
    pub cpu_count: i32,
    pub mem_size_mb: i32,
    pub network_latency_ms: i32,
    pub privileged: bool,
    pub volunteers: bool,
    pub paused: bool,
    pub build_id: Option<Uuid>,
    /// `PENDING` (its compile job is open), `SUCCESS` or `FAILED`.
    pub build_status: Option<String>,
    pub artifact_sha256: Option<String>,
    pub artifact_size: Option<i64>,
    pub image: Option<String>,
    pub image_pin: Option<String>,
    /// k-of-n verification: such tasks are never placed at submit (their runs are claimed).
    pub quorum: i16,
}

/// Live functions among `ids`, with their current build's artifact.
pub async fn function_snapshots(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> sqlx::Result<Vec<FunctionSnapshotRow>> {
    sqlx::query_as!(
        FunctionSnapshotRow,
        r#"SELECT f.id, f.account_id, f.lang, f.timeout_s, f.cpu_count, f.mem_size_mb, f.network_latency_ms,
                  f.privileged, f.volunteers, f.paused, f.current_build_id AS build_id,
                  b.status AS "build_status?", a.sha256 AS "artifact_sha256?", a.size_bytes AS "artifact_size?",
                  f.image, f.image_pin, f.quorum
           FROM functions f
           LEFT JOIN builds b ON b.id = f.current_build_id
           LEFT JOIN artifacts a ON a.sha256 = b.artifact_sha256
           WHERE f.id = ANY($1) AND f.deleted_at IS NULL"#,
        ids
    )
    .fetch_all(conn)
    .await
}

/// The tasks of one group commit, column by column (the insert unnests the arrays).
#[derive(Debug, Default)]
pub struct NewTasks {
    pub id: Vec<Uuid>,
    pub account_id: Vec<Uuid>,
    pub function_id: Vec<Uuid>,
    pub build_id: Vec<Uuid>,
    pub lang: Vec<String>,
    pub timeout_s: Vec<i32>,
    pub cpu_count: Vec<i32>,
    pub mem_size_mb: Vec<i32>,
    pub network_latency_ms: Vec<i32>,
    pub privileged: Vec<bool>,
    pub volunteers: Vec<bool>,
    pub method: Vec<String>,
    pub query: Vec<String>,
    pub headers: Vec<serde_json::Value>,
    pub content_type: Vec<Option<String>>,
    pub body: Vec<Vec<u8>>,
    pub priority: Vec<i16>,
    pub deadline: Vec<Option<DateTime<Utc>>>,
    /// `Prefer: defer`: finish by then.
    pub defer_until: Vec<Option<DateTime<Utc>>>,
    /// Held (queued, unclaimable) until then: a greener window.
    pub not_before: Vec<Option<DateTime<Utc>>>,
    /// `Some(node)`: the task is created already assigned to that node, with a lease.
    pub node_id: Vec<Option<Uuid>>,
    /// The connection of that node it is handed to.
    pub session_id: Vec<Option<Uuid>>,
    /// The function's custom image and pin as the snapshot saw them (checked, not stored).
    pub image: Vec<Option<String>>,
    pub image_pin: Vec<Option<String>>,
}

impl NewTasks {
    pub fn len(&self) -> usize {
        self.id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_empty()
    }
}

/// Inserts the batch in one statement (one commit) and returns the ids inserted. Tasks with a
/// node start `assigned`, the others `queued`. A row is inserted only if its function is still
/// as its snapshot says (live, unpaused, the same build, capabilities and custom image): the snapshot may be
/// one this replica remembered, and the ids left out name submissions to resolve again.
pub async fn insert_batch(
    conn: &mut PgConnection,
    tasks: &NewTasks,
    lease_ms: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"INSERT INTO tasks (id, account_id, function_id, build_id, lang, timeout_s, cpu_count, mem_size_mb,
                              network_latency_ms, privileged, request_method, request_query, request_headers,
                              request_content_type, request_body, priority, deadline,
                              status, node_id, session_id, assigned_at, lease_expires_at, volunteers,
                              defer_until, not_before, quorum, quorum_runs)
           SELECT v.id, v.account_id, v.function_id, v.build_id, v.lang, v.timeout_s, v.cpu_count, v.mem_size_mb,
                  v.network_latency_ms, v.privileged, v.method, v.query, v.headers, v.content_type, v.body,
                  v.priority, v.deadline,
                  CASE WHEN v.node_id IS NULL THEN 'queued' ELSE 'assigned' END, v.node_id, v.session_id,
                  CASE WHEN v.node_id IS NULL THEN NULL ELSE clock_timestamp() END,
                  CASE WHEN v.node_id IS NULL THEN NULL ELSE now() + make_interval(secs => $19::float8 / 1000) END,
                  v.volunteers, v.defer_until, v.not_before, f.quorum, f.quorum_runs
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int4[], $7::int4[], $8::int4[],
                       $9::int4[], $10::bool[], $11::text[], $12::text[], $13::jsonb[], $14::text[], $15::bytea[],
                       $16::int2[], $17::timestamptz[], $18::uuid[], $20::uuid[], $21::bool[],
                       $22::timestamptz[], $23::timestamptz[], $24::text[], $25::text[])
                AS v(id, account_id, function_id, build_id, lang, timeout_s, cpu_count, mem_size_mb,
                     network_latency_ms, privileged, method, query, headers, content_type, body,
                     priority, deadline, node_id, session_id, volunteers, defer_until, not_before,
                     image, image_pin)
           JOIN functions f ON f.id = v.function_id
           WHERE f.account_id = v.account_id AND f.deleted_at IS NULL AND NOT f.paused
             AND f.current_build_id = v.build_id AND f.lang = v.lang AND f.timeout_s = v.timeout_s
             AND f.cpu_count = v.cpu_count AND f.mem_size_mb = v.mem_size_mb
             AND f.network_latency_ms = v.network_latency_ms AND f.privileged = v.privileged
             AND f.volunteers = v.volunteers
             AND f.image IS NOT DISTINCT FROM v.image AND f.image_pin IS NOT DISTINCT FROM v.image_pin
             -- Runs of a task under verification are claimed, each on another owner's node.
             AND (v.node_id IS NULL OR f.quorum = 0)
           RETURNING id"#,
        &tasks.id,
        &tasks.account_id,
        &tasks.function_id,
        &tasks.build_id,
        &tasks.lang,
        &tasks.timeout_s,
        &tasks.cpu_count,
        &tasks.mem_size_mb,
        &tasks.network_latency_ms,
        &tasks.privileged,
        &tasks.method,
        &tasks.query,
        &tasks.headers,
        &tasks.content_type as &[Option<String>],
        &tasks.body,
        &tasks.priority,
        &tasks.deadline as &[Option<DateTime<Utc>>],
        &tasks.node_id as &[Option<Uuid>],
        lease_ms as f64,
        &tasks.session_id as &[Option<Uuid>],
        &tasks.volunteers,
        &tasks.defer_until as &[Option<DateTime<Utc>>],
        &tasks.not_before as &[Option<DateTime<Utc>>],
        &tasks.image as &[Option<String>],
        &tasks.image_pin as &[Option<String>]
    )
    .fetch_all(conn)
    .await
}

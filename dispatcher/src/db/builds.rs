//! Builds and the content-addressed artifacts they produce.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tokio::io::{AsyncRead, AsyncReadExt};
use uuid::Uuid;

/// A build as shown by the API.
#[derive(Debug, Clone)]
pub struct BuildRow {
    pub id: Uuid,
    pub function_id: Uuid,
    pub status: String,
    pub arch: String,
    pub artifact_sha256: Option<String>,
    pub artifact_size: Option<i64>,
    pub entry_point: Option<String>,
    pub timeline: serde_json::Value,
    pub log: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Fields of a finished build.
#[derive(Debug)]
pub struct NewBuild<'a> {
    pub id: Uuid,
    pub account_id: Uuid,
    pub function_id: Uuid,
    pub status: &'a str,
    pub arch: &'a str,
    pub artifact_sha256: Option<&'a str>,
    pub entry_point: Option<&'a str>,
    pub timeline: serde_json::Value,
    pub log: Vec<String>,
}

/// Bytes of a package sent to Postgres per COPY message (twice that as hex).
const COPY_CHUNK: usize = 512 * 1024;

/// Stores an artifact once per content, streaming `content` (`size` bytes) with `COPY` so the
/// dispatcher holds one chunk at a time. Uploads of the same content wait for each other's
/// transaction (an advisory lock on the hash) rather than collide on the key.
pub async fn store_artifact(
    conn: &mut PgConnection,
    sha256: &str,
    size: u64,
    mut content: impl AsyncRead + Unpin,
) -> sqlx::Result<()> {
    sqlx::query_scalar!(
        r#"SELECT true AS "locked!" FROM pg_advisory_xact_lock(hashtextextended($1, 0))"#,
        sha256
    )
    .fetch_one(&mut *conn)
    .await?;
    let stored = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM artifacts WHERE sha256 = $1) AS "stored!""#,
        sha256
    )
    .fetch_one(&mut *conn)
    .await?;
    if stored {
        return Ok(());
    }
    let mut copy = conn
        .copy_in_raw("COPY artifacts (sha256, size_bytes, content) FROM STDIN")
        .await?;
    // Text format: a bytea is `\x` and hex, the backslash escaped for COPY.
    copy.send(format!("{sha256}\t{size}\t\\\\x").into_bytes())
        .await?;
    let mut chunk = vec![0u8; COPY_CHUNK];
    loop {
        let read = match content.read(&mut chunk).await {
            Ok(read) => read,
            Err(error) => {
                copy.abort(error.to_string()).await?;
                return Err(error.into());
            }
        };
        if read == 0 {
            break;
        }
        copy.send(hex::encode(&chunk[..read]).into_bytes()).await?;
    }
    copy.send(b"\n".as_slice()).await?;
    copy.finish().await?;
    Ok(())
}

/// A package's size, if it is stored.
pub async fn artifact_size(conn: &mut PgConnection, sha256: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!("SELECT size_bytes FROM artifacts WHERE sha256 = $1", sha256)
        .fetch_optional(conn)
        .await
}

/// `len` bytes of a package from byte `offset` (0-based): downloads read it chunk by chunk.
pub async fn artifact_chunk(
    conn: &mut PgConnection,
    sha256: &str,
    offset: i32,
    len: i32,
) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar!(
        r#"SELECT substring(content FROM $2 + 1 FOR $3) AS "chunk!" FROM artifacts WHERE sha256 = $1"#,
        sha256,
        offset,
        len
    )
    .fetch_optional(conn)
    .await
}

/// Whether `node` holds a live assignment of a task that runs the artifact (the build's current
/// package, or its source for a task assigned before the build was compiled), or the build's
/// compile job: workers get code only for the work they were given, not by knowing a hash.
pub async fn node_holds_artifact(
    conn: &mut PgConnection,
    node: Uuid,
    sha256: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (
               SELECT 1 FROM tasks t JOIN builds b ON b.id = t.build_id
               WHERE t.node_id = $1 AND t.status IN ('assigned', 'running')
                 AND (b.artifact_sha256 = $2 OR b.source_sha256 = $2)
           ) OR EXISTS (
               SELECT 1 FROM builds b
               WHERE b.compile_node_id = $1 AND b.status = 'PENDING' AND b.source_sha256 = $2
           ) OR EXISTS (
               SELECT 1 FROM artifact_grants g
               WHERE g.node_id = $1 AND g.artifact_sha256 = $2 AND g.expires_at > now()
           ) AS "held!""#,
        node,
        sha256
    )
    .fetch_one(conn)
    .await
}

/// Lets the nodes download a code package for `seconds` (a prewarm: no task holds it yet).
pub async fn grant_artifact(
    conn: &mut PgConnection,
    nodes: &[Uuid],
    sha256: &str,
    seconds: f64,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO artifact_grants (node_id, artifact_sha256, expires_at)
         SELECT node, $2, now() + make_interval(secs => $3) FROM unnest($1::uuid[]) AS node
         ON CONFLICT (node_id, artifact_sha256) DO UPDATE SET expires_at = excluded.expires_at",
        nodes,
        sha256,
        seconds
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a build; a successful or pending one becomes the function's current build.
pub async fn insert(conn: &mut PgConnection, build: &NewBuild<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO builds (id, account_id, function_id, status, arch, artifact_sha256, entry_point, timeline, log)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        build.id,
        build.account_id,
        build.function_id,
        build.status,
        build.arch,
        build.artifact_sha256,
        build.entry_point,
        build.timeline,
        &build.log
    )
    .execute(&mut *conn)
    .await?;
    if matches!(build.status, "SUCCESS" | "PENDING") {
        sqlx::query!(
            "UPDATE functions SET current_build_id = $2, updated_at = now() WHERE id = $1",
            build.function_id,
            build.id
        )
        .execute(conn)
        .await?;
    }
    Ok(())
}

pub async fn find(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<BuildRow>> {
    sqlx::query_as!(
        BuildRow,
        r#"SELECT b.id, b.function_id, b.status, b.arch, b.artifact_sha256, a.size_bytes AS "artifact_size?",
                  b.entry_point, b.timeline, b.log, b.created_at
           FROM builds b LEFT JOIN artifacts a ON a.sha256 = b.artifact_sha256
           WHERE b.id = $1 AND b.account_id = $2"#,
        id,
        account_id
    )
    .fetch_optional(conn)
    .await
}

/// One page of the account's builds, newest first, and the total count.
pub async fn page(
    conn: &mut PgConnection,
    account_id: Uuid,
    function_id: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<BuildRow>, i64)> {
    let rows = sqlx::query_as!(
        BuildRow,
        r#"SELECT b.id, b.function_id, b.status, b.arch, b.artifact_sha256, a.size_bytes AS "artifact_size?",
                  b.entry_point, b.timeline, b.log, b.created_at
           FROM builds b LEFT JOIN artifacts a ON a.sha256 = b.artifact_sha256
           WHERE b.account_id = $1 AND ($2::uuid IS NULL OR b.function_id = $2)
           ORDER BY b.id DESC LIMIT $3 OFFSET $4"#,
        account_id,
        function_id,
        limit,
        offset
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM builds WHERE account_id = $1 AND ($2::uuid IS NULL OR function_id = $2)"#,
        account_id,
        function_id
    )
    .fetch_one(conn)
    .await?;
    Ok((rows, total))
}

//! k-of-n verification in the database: a function's quorum, the votes (one per run) of its
//! tasks, and the trust scores of the nodes that cast them (docs/security.md).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A function's quorum and most runs (0 and 0 when off), if the function is the account's.
pub async fn of_function(
    conn: &mut PgConnection,
    account: Uuid,
    function: Uuid,
) -> sqlx::Result<Option<(i16, i16)>> {
    let row = sqlx::query!(
        "SELECT quorum, quorum_runs FROM functions
         WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL",
        function,
        account
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| (row.quorum, row.quorum_runs)))
}

/// Sets a function's quorum; false when it is not the account's. Tasks already issued keep theirs.
pub async fn set_for_function(
    conn: &mut PgConnection,
    account: Uuid,
    function: Uuid,
    quorum: i16,
    runs: i16,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE functions SET quorum = $3, quorum_runs = $4, updated_at = now()
         WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL",
        function,
        account,
        quorum,
        runs
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The tasks among `ids` whose results are votes.
pub async fn verified_among(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT id FROM tasks WHERE id = ANY($1) AND quorum > 0",
        ids
    )
    .fetch_all(conn)
    .await
}

/// A task under verification as it stands, locked until the transaction ends.
#[derive(Debug, Clone)]
pub struct Ballot {
    pub attempt: i32,
    pub node_id: Option<Uuid>,
    pub status: String,
    pub quorum: i16,
    pub quorum_runs: i16,
    /// The owner of `node_id`.
    pub owner: Option<Uuid>,
}

pub async fn lock_ballot(conn: &mut PgConnection, task: Uuid) -> sqlx::Result<Option<Ballot>> {
    sqlx::query_as!(
        Ballot,
        r#"SELECT t.attempt, t.node_id, t.status, t.quorum, t.quorum_runs, n.account_id AS "owner?"
           FROM tasks t LEFT JOIN nodes n ON n.id = t.node_id
           WHERE t.id = $1
           FOR UPDATE OF t"#,
        task
    )
    .fetch_optional(conn)
    .await
}

/// One run's answer.
#[derive(Debug, Clone)]
pub struct NewVote<'a> {
    pub task: Uuid,
    pub attempt: i32,
    pub node: Uuid,
    pub owner: Uuid,
    pub digest: &'a [u8],
    pub status: &'a str,
    pub response_status: Option<i32>,
    pub content_type: Option<&'a str>,
    pub body: Option<&'a [u8]>,
    pub error_kind: Option<&'a str>,
    pub error_message: Option<&'a str>,
}

/// Records a vote; returns how many of the task's votes (this one included) carry its digest,
/// and how many votes it has in all.
pub async fn cast(conn: &mut PgConnection, vote: &NewVote<'_>) -> sqlx::Result<(i64, i64)> {
    sqlx::query!(
        "INSERT INTO task_votes (task_id, attempt, node_id, owner_id, digest, status, response_status,
                                 response_content_type, response_body, error_kind, error_message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (task_id, attempt) DO NOTHING",
        vote.task,
        vote.attempt,
        vote.node,
        vote.owner,
        vote.digest,
        vote.status,
        vote.response_status,
        vote.content_type,
        vote.body,
        vote.error_kind,
        vote.error_message
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE digest = $2) AS "agreeing!", count(*) AS "all!"
           FROM task_votes WHERE task_id = $1"#,
        vote.task,
        vote.digest
    )
    .fetch_one(conn)
    .await?;
    Ok((row.agreeing, row.all))
}

/// Ends the vote on the `winner` digest: each vote is marked as agreeing or not and its node's
/// score moves (`agree_points` up or `disagree_points` down). Returns the nodes that lost points;
/// every replica re-reads their trust (`canopy_nodes trust:<node>`), since a low score ends their
/// volunteering.
pub async fn settle(
    conn: &mut PgConnection,
    task: Uuid,
    winner: &[u8],
    agree_points: i32,
    disagree_points: i32,
) -> sqlx::Result<Vec<Uuid>> {
    let rows = sqlx::query!(
        r#"WITH marked AS (
             UPDATE task_votes SET agreed = (digest = $2) WHERE task_id = $1
             RETURNING node_id, agreed
         ), scored AS (
             UPDATE nodes n SET
                 trust_score = n.trust_score + CASE WHEN m.agreed THEN $3::int4 ELSE -($4::int4) END,
                 votes_agreed = n.votes_agreed + CASE WHEN m.agreed THEN 1 ELSE 0 END,
                 votes_disagreed = n.votes_disagreed + CASE WHEN m.agreed THEN 0 ELSE 1 END
             FROM marked m WHERE n.id = m.node_id
             RETURNING n.id, m.agreed
         )
         SELECT id AS "id!", pg_notify('canopy_nodes', 'trust:' || id::text) AS notified
         FROM scored WHERE NOT agreed"#,
        task,
        winner,
        agree_points,
        disagree_points
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// Sends the task back to the queue for its next run, on a node of none of the owners that
/// voted (the claim path skips `voter_owners`).
pub async fn requeue_for_next_run(
    conn: &mut PgConnection,
    task: Uuid,
    attempt: i32,
    voter: Uuid,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE tasks SET status = 'queued', attempt = attempt + 1, node_id = NULL, session_id = NULL,
                          assigned_at = NULL, started_at = NULL, lease_expires_at = NULL, progress = 0,
                          owner_paused_at = NULL, owner_paused_s = 0, error_kind = NULL, error_message = NULL,
                          voter_owners = array_append(voter_owners, $3)
         WHERE id = $1 AND attempt = $2 AND status IN ('assigned', 'running')",
        task,
        attempt,
        voter
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A vote as `GET /v1/task/{id}/votes` shows it.
#[derive(Debug, Clone)]
pub struct VoteRow {
    pub attempt: i32,
    pub node_id: Uuid,
    pub digest: Vec<u8>,
    pub status: String,
    pub response_status: Option<i32>,
    pub error_kind: Option<String>,
    pub agreed: Option<bool>,
    pub voted_at: DateTime<Utc>,
}

/// The task's quorum, most runs, and votes, oldest first (the caller checked it is theirs).
pub async fn of_task(
    conn: &mut PgConnection,
    task: Uuid,
) -> sqlx::Result<((i16, i16), Vec<VoteRow>)> {
    let quorum = sqlx::query!("SELECT quorum, quorum_runs FROM tasks WHERE id = $1", task)
        .fetch_optional(&mut *conn)
        .await?
        .map_or((0, 0), |row| (row.quorum, row.quorum_runs));
    let votes = sqlx::query_as!(
        VoteRow,
        "SELECT attempt, node_id, digest, status, response_status, error_kind, agreed, voted_at
         FROM task_votes WHERE task_id = $1 ORDER BY attempt",
        task
    )
    .fetch_all(conn)
    .await?;
    Ok((quorum, votes))
}

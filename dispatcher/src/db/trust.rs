//! Who may run whose tasks: nodes' volunteer flags, the pools admins form, and accounts' approval
//! for privileged functions (docs/security.md).

use canopy_shared::matching::NodeTrust;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// The trust of each of `nodes` (deleted nodes included: a connected session may still hold one).
/// A node whose verification score fell below `min_score` no longer volunteers.
pub async fn of_nodes(
    conn: &mut PgConnection,
    nodes: &[Uuid],
    min_score: i32,
) -> sqlx::Result<Vec<(Uuid, NodeTrust)>> {
    let rows = sqlx::query!(
        r#"SELECT n.id, n.account_id, n.volunteer AND n.trust_score >= $2 AS "volunteer!",
                  array(SELECT DISTINCT other.account_id FROM pool_members mine
                        JOIN pool_members other ON other.pool_id = mine.pool_id
                        WHERE mine.account_id = n.account_id AND other.account_id <> n.account_id) AS "pooled!"
           FROM nodes n WHERE n.id = ANY($1)"#,
        nodes,
        min_score
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let trust = NodeTrust {
                owner: row.account_id,
                volunteer: row.volunteer,
                pooled: row.pooled,
            };
            (row.id, trust)
        })
        .collect())
}

/// Offers the node to other accounts' functions that allow volunteers, or stops offering it.
/// `owner` scopes the change to one account's nodes (`None`: an admin). False when not found.
pub async fn set_volunteer(
    conn: &mut PgConnection,
    node: Uuid,
    owner: Option<Uuid>,
    volunteer: bool,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE nodes SET volunteer = $3, updated_at = now()
         WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2) AND deleted_at IS NULL",
        node,
        owner,
        volunteer
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A pool with its member accounts.
#[derive(Debug, Clone)]
pub struct PoolRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub members: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub async fn pools(conn: &mut PgConnection) -> sqlx::Result<Vec<PoolRow>> {
    sqlx::query_as!(
        PoolRow,
        r#"SELECT p.id, p.name, p.description, p.created_at,
                  array(SELECT m.account_id FROM pool_members m WHERE m.pool_id = p.id ORDER BY m.account_id) AS "members!"
           FROM pools p ORDER BY p.created_at, p.id"#
    )
    .fetch_all(conn)
    .await
}

/// Creates a pool; a taken name fails on `pools_name_key`.
pub async fn insert_pool(
    conn: &mut PgConnection,
    id: Uuid,
    name: &str,
    description: &str,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO pools (id, name, description) VALUES ($1, $2, $3)",
        id,
        name,
        description
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a pool's members; false when the pool does not exist. Unknown accounts fail on the
/// foreign key (`pool_members_account_id_fkey`).
pub async fn set_members(
    conn: &mut PgConnection,
    pool: Uuid,
    members: &[Uuid],
) -> sqlx::Result<bool> {
    let exists = sqlx::query_scalar!(
        r#"UPDATE pools SET updated_at = now() WHERE id = $1 RETURNING 1 AS "one!""#,
        pool
    )
    .fetch_optional(&mut *conn)
    .await?;
    if exists.is_none() {
        return Ok(false);
    }
    sqlx::query!(
        "WITH gone AS (DELETE FROM pool_members WHERE pool_id = $1 AND NOT (account_id = ANY($2)))
         INSERT INTO pool_members (pool_id, account_id) SELECT $1, unnest($2::uuid[])
         ON CONFLICT DO NOTHING",
        pool,
        members
    )
    .execute(conn)
    .await?;
    Ok(true)
}

pub async fn delete_pool(conn: &mut PgConnection, pool: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!("DELETE FROM pools WHERE id = $1", pool)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Approves (or withdraws approval of) an account's privileged functions; false when unknown.
pub async fn set_privileged_approved(
    conn: &mut PgConnection,
    account: Uuid,
    approved: bool,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE accounts SET privileged_approved = $2 WHERE id = $1",
        account,
        approved
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Whether the account may create privileged functions (approved, or an admin).
pub async fn privileged_approved(conn: &mut PgConnection, account: Uuid) -> sqlx::Result<bool> {
    let approved = sqlx::query_scalar!(
        r#"SELECT (privileged_approved OR role = 'admin') AS "approved!" FROM accounts WHERE id = $1"#,
        account
    )
    .fetch_optional(conn)
    .await?;
    Ok(approved.unwrap_or(false))
}

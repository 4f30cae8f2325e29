//! Tags, scoped to their account.

use sqlx::PgConnection;
use uuid::Uuid;

/// A tag as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    pub id: Uuid,
    pub name: String,
    pub color: Option<String>,
}

/// Inserts a tag; a duplicate name in the account fails on `tags_account_name_key`.
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    account_id: Uuid,
    name: &str,
    color: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO tags (id, account_id, name, color) VALUES ($1, $2, $3, $4)",
        id,
        account_id,
        name,
        color
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list(conn: &mut PgConnection, account_id: Uuid) -> sqlx::Result<Vec<TagRow>> {
    sqlx::query_as!(
        TagRow,
        "SELECT id, name, color FROM tags WHERE account_id = $1 ORDER BY id",
        account_id
    )
    .fetch_all(conn)
    .await
}

/// Changes the given fields; false when the tag is not the account's.
pub async fn update(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
    name: Option<&str>,
    color: Option<&str>,
) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "UPDATE tags SET name = coalesce($3, name), color = coalesce($4, color), updated_at = now()
         WHERE id = $1 AND account_id = $2",
        id,
        account_id,
        name,
        color
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes a tag (function links go with it); false when it is not the account's.
pub async fn delete(conn: &mut PgConnection, account_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "DELETE FROM tags WHERE id = $1 AND account_id = $2",
        id,
        account_id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Which of `ids` are tags of the account.
pub async fn owned_among(
    conn: &mut PgConnection,
    account_id: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<Uuid>> {
    let rows = sqlx::query!(
        "SELECT id FROM tags WHERE account_id = $1 AND id = ANY($2)",
        account_id,
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

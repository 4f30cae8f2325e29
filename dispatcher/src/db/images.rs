//! Functions' custom images: the reference a function runs in and the image id it is pinned to
//! (docs/runtime-contract.md, "Custom images").

use sqlx::PgConnection;
use uuid::Uuid;

/// A function's custom image as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRow {
    pub image: Option<String>,
    pub image_pin: Option<String>,
}

/// Sets or clears (`None`) a function's custom image and drops its pin: setting the image, even
/// the same reference, is how an owner accepts what the tag names now.
pub async fn set_image(
    conn: &mut PgConnection,
    function_id: Uuid,
    image: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE functions SET image = $2, image_pin = NULL WHERE id = $1",
        function_id,
        image
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A function's custom image (none when the function does not exist).
pub async fn image_of(conn: &mut PgConnection, function_id: Uuid) -> sqlx::Result<ImageRow> {
    let row = sqlx::query_as!(
        ImageRow,
        "SELECT image, image_pin FROM functions WHERE id = $1",
        function_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or_default())
}

/// Records the image id a worker resolved the function's image to, unless a pin is already
/// there or the function's image changed since the task was assigned. Returns whether it pinned.
pub async fn pin_for_task(
    conn: &mut PgConnection,
    task_id: Uuid,
    reference: &str,
    image_id: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE functions f SET image_pin = $3
         FROM tasks t
         WHERE t.id = $1 AND f.id = t.function_id AND f.image = $2 AND f.image_pin IS NULL",
        task_id,
        reference,
        image_id
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

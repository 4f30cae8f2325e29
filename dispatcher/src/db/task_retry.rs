//! What retrying a task needs: the original request of one of the account's tasks.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::tasks::TaskStatus;

/// A task's function, state and request as it was sent.
#[derive(Debug, Clone)]
pub struct OriginalRequest {
    pub function_id: Uuid,
    pub status: TaskStatus,
    pub request_method: String,
    pub request_query: String,
    /// `[[name, value], …]`, already filtered when the task was created.
    pub request_headers: serde_json::Value,
    pub request_content_type: Option<String>,
    pub request_body: Vec<u8>,
}

pub async fn original_request(
    conn: &mut PgConnection,
    account_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<OriginalRequest>> {
    sqlx::query_as!(
        OriginalRequest,
        r#"SELECT function_id, status AS "status: TaskStatus", request_method, request_query, request_headers,
                  request_content_type, request_body
           FROM tasks WHERE id = $1 AND account_id = $2"#,
        id,
        account_id
    )
    .fetch_optional(conn)
    .await
}

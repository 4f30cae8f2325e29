//! The Serverledge facade's rows: function names and settings, and its invocations.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::tasks::TaskStatus;

/// A live facade function.
#[derive(Debug, Clone)]
pub struct FacadeFunction {
    pub function_id: Uuid,
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub memory_mb: i32,
    pub cpu_demand: f64,
}

/// A new facade function (its Canopy function is inserted first).
#[derive(Debug)]
pub struct NewFacadeFunction<'a> {
    pub function_id: Uuid,
    pub account_id: Uuid,
    pub name: &'a str,
    pub runtime: &'a str,
    pub handler: &'a str,
    pub memory_mb: i32,
    pub cpu_demand: f64,
}

/// Claims the name for the account; false when a live function of the account holds it. A name
/// left by a function deleted through the GreenCloud API is free again.
pub async fn insert_function(
    conn: &mut PgConnection,
    function: &NewFacadeFunction<'_>,
) -> sqlx::Result<bool> {
    sqlx::query!(
        "DELETE FROM serverledge_functions s USING functions f
         WHERE s.account_id = $1 AND s.name = $2 AND f.id = s.function_id AND f.deleted_at IS NOT NULL",
        function.account_id,
        function.name
    )
    .execute(&mut *conn)
    .await?;
    let result = sqlx::query!(
        "INSERT INTO serverledge_functions (function_id, account_id, name, runtime, handler, memory_mb, cpu_demand)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (account_id, name) DO NOTHING",
        function.function_id,
        function.account_id,
        function.name,
        function.runtime,
        function.handler,
        function.memory_mb,
        function.cpu_demand
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// The account's live facade function called `name`.
pub async fn find_function(
    conn: &mut PgConnection,
    account_id: Uuid,
    name: &str,
) -> sqlx::Result<Option<FacadeFunction>> {
    sqlx::query_as!(
        FacadeFunction,
        "SELECT s.function_id, s.name, s.runtime, s.handler, s.memory_mb, s.cpu_demand
         FROM serverledge_functions s JOIN functions f ON f.id = s.function_id
         WHERE s.account_id = $1 AND s.name = $2 AND f.deleted_at IS NULL",
        account_id,
        name
    )
    .fetch_optional(conn)
    .await
}

/// Names of the account's live facade functions, sorted.
pub async fn names(conn: &mut PgConnection, account_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT s.name FROM serverledge_functions s JOIN functions f ON f.id = s.function_id
         WHERE s.account_id = $1 AND f.deleted_at IS NULL ORDER BY s.name",
        account_id
    )
    .fetch_all(conn)
    .await
}

/// Frees the name; the function itself is soft-deleted by the caller in the same transaction.
pub async fn delete_function(conn: &mut PgConnection, function_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "DELETE FROM serverledge_functions WHERE function_id = $1",
        function_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An invocation's options, kept beside its task.
#[derive(Debug)]
pub struct NewRequest {
    pub task_id: Uuid,
    pub account_id: Uuid,
    pub qos_class: i32,
    pub qos_max_resp_t: Option<f64>,
    pub can_do_offloading: bool,
    pub is_async: bool,
}

pub async fn insert_request(conn: &mut PgConnection, request: &NewRequest) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO serverledge_requests (task_id, account_id, qos_class, qos_max_resp_t, can_do_offloading, async)
         VALUES ($1, $2, $3, $4, $5, $6)",
        request.task_id,
        request.account_id,
        request.qos_class,
        request.qos_max_resp_t,
        request.can_do_offloading,
        request.is_async
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What a report is made of: the task's outcome and its timings.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: TaskStatus,
    pub response_status: Option<i32>,
    pub response_body: Option<Vec<u8>>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub init_ms: Option<i32>,
    pub exec_ms: Option<i32>,
    pub warm: Option<bool>,
    pub node_id: Option<Uuid>,
    pub issued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The outcome of one of the account's tasks; with `invocations_only`, only of a task started
/// by the facade's `/invoke` (what `/poll` may read).
pub async fn outcome(
    conn: &mut PgConnection,
    account_id: Uuid,
    task_id: Uuid,
    invocations_only: bool,
) -> sqlx::Result<Option<Outcome>> {
    sqlx::query_as!(
        Outcome,
        r#"SELECT t.status AS "status: TaskStatus", t.response_status, t.response_body, t.error_kind,
                  t.error_message, t.init_ms, t.exec_ms, t.warm, t.node_id, t.issued_at, t.started_at,
                  t.finished_at
           FROM tasks t
           WHERE t.id = $1 AND t.account_id = $2
             AND (NOT $3 OR EXISTS (SELECT 1 FROM serverledge_requests r WHERE r.task_id = t.id))"#,
        task_id,
        account_id,
        invocations_only
    )
    .fetch_optional(conn)
    .await
}

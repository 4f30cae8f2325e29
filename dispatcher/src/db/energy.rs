//! CPU time and energy of ended tasks, summed for `GET /v1/metrics` and
//! `GET /v1/function/{id}/metrics` (`docs/energy.md`).

use sqlx::PgConnection;
use uuid::Uuid;

/// Sums over tasks that reported their usage.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnergyTotals {
    /// Tasks with a measured usage.
    pub measured_tasks: i64,
    pub cpu_seconds: f64,
    pub energy_wh: f64,
    /// gCO₂e of the tasks whose node's grid intensity was known (Wh × gCO₂e/kWh / 1000).
    pub grams_co2e: f64,
}

/// The account's tasks (one function's, when given).
pub async fn totals(
    conn: &mut PgConnection,
    account: Uuid,
    function: Option<Uuid>,
) -> sqlx::Result<EnergyTotals> {
    sqlx::query_as!(
        EnergyTotals,
        r#"SELECT count(energy_wh) AS "measured_tasks!",
                  coalesce(sum(cpu_seconds), 0)::float8 AS "cpu_seconds!",
                  coalesce(sum(energy_wh), 0)::float8 AS "energy_wh!",
                  coalesce(sum(energy_wh * carbon_intensity / 1000.0), 0)::float8 AS "grams_co2e!"
           FROM tasks
           WHERE account_id = $1 AND ($2::uuid IS NULL OR function_id = $2) AND energy_wh IS NOT NULL"#,
        account,
        function
    )
    .fetch_one(conn)
    .await
}

/// What one node spent, whoever's tasks it ran.
#[derive(Debug, Clone)]
pub struct NodeEnergy {
    pub node_id: Uuid,
    pub measured_tasks: i64,
    pub cpu_seconds: f64,
    pub energy_wh: f64,
    pub grams_co2e: f64,
}

/// The account's nodes, each with the usage of the tasks that ended on it.
pub async fn by_node(conn: &mut PgConnection, owner: Uuid) -> sqlx::Result<Vec<NodeEnergy>> {
    sqlx::query_as!(
        NodeEnergy,
        r#"SELECT n.id AS "node_id!", count(t.energy_wh) AS "measured_tasks!",
                  coalesce(sum(t.cpu_seconds), 0)::float8 AS "cpu_seconds!",
                  coalesce(sum(t.energy_wh), 0)::float8 AS "energy_wh!",
                  coalesce(sum(t.energy_wh * t.carbon_intensity / 1000.0), 0)::float8 AS "grams_co2e!"
           FROM nodes n LEFT JOIN tasks t ON t.node_id = n.id AND t.energy_wh IS NOT NULL
           WHERE n.account_id = $1 AND n.deleted_at IS NULL
           GROUP BY n.id, n.created_at
           ORDER BY n.created_at, n.id"#,
        owner
    )
    .fetch_all(conn)
    .await
}

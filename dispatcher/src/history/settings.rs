//! Settings of task history.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct HistorySettings {
    /// Finished tasks issued more than this many days ago are deleted, in batches (0 keeps them
    /// forever).
    #[arg(
        id = "task_retention_days",
        long = "task-retention-days",
        env = "CANOPY_TASK_RETENTION_DAYS",
        default_value_t = 0
    )]
    pub retention_days: u32,

    /// Tasks deleted per statement by the retention sweep (small batches keep locks short).
    #[arg(
        id = "task_retention_batch",
        long = "task-retention-batch",
        env = "CANOPY_TASK_RETENTION_BATCH",
        default_value_t = 1000
    )]
    pub retention_batch: u32,
}

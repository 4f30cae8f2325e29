//! The default quota: what an account without its own quota may use.

use clap::Args;

use super::Quota;

#[derive(Debug, Clone, Args)]
pub struct QuotaSettings {
    /// Tasks an account may submit per UTC day unless an admin set its own quota (unset: no limit).
    #[arg(long, env = "CANOPY_DEFAULT_TASKS_PER_DAY")]
    pub default_tasks_per_day: Option<u32>,

    /// Queued and running tasks an account may have at once by default (unset: no limit).
    #[arg(long, env = "CANOPY_DEFAULT_CONCURRENT_TASKS")]
    pub default_concurrent_tasks: Option<u32>,

    /// MB of code (current builds of live functions) an account may keep by default (unset: no limit).
    #[arg(long, env = "CANOPY_DEFAULT_STORAGE_MB")]
    pub default_storage_mb: Option<u32>,
}

impl QuotaSettings {
    pub fn defaults(&self) -> Quota {
        Quota {
            tasks_per_day: self.default_tasks_per_day,
            concurrent_tasks: self.default_concurrent_tasks,
            storage_mb: self.default_storage_mb,
        }
    }
}

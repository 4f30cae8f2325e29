//! Settings of schedules.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ScheduleSettings {
    /// How often each replica looks for schedules whose tick has come, ms (ticks are whole
    /// minutes, so a run starts at most this late).
    #[arg(
        id = "schedule_poll_ms",
        long = "schedule-poll-ms",
        env = "CANOPY_SCHEDULE_POLL_MS",
        default_value_t = 1000
    )]
    pub poll_ms: u64,
}

//! Settings of triggers.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct TriggerSettings {
    /// Longest chain of triggered tasks from one caller's task; a firing deeper than this is
    /// refused (`CHAIN_TOO_DEEP`). Cycles are refused when a trigger is created; this bounds
    /// what a race between two creations could still close.
    #[arg(
        id = "trigger_max_depth",
        long = "trigger-max-depth",
        env = "CANOPY_TRIGGER_MAX_DEPTH",
        default_value_t = 10
    )]
    pub max_depth: i32,

    /// How often each replica looks for firings nobody submitted (a missed notification, a
    /// replica that died holding a claim), ms. New firings are submitted on notification.
    #[arg(
        id = "trigger_poll_ms",
        long = "trigger-poll-ms",
        env = "CANOPY_TRIGGER_POLL_MS",
        default_value_t = 1000
    )]
    pub poll_ms: u64,
}

//! Settings of the Serverledge facade.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ServerledgeSettings {
    /// Also serve the facade alone on this address (Serverledge's port is 1323), so clients
    /// keep their port; it is always served at the root of `--listen` too.
    #[arg(long = "serverledge-listen", env = "CANOPY_SERVERLEDGE_LISTEN")]
    pub serverledge_listen: Option<std::net::SocketAddr>,

    /// Seconds a synchronous Serverledge `/invoke` without `QoSMaxRespT` may wait for a worker to
    /// take it; past that it is dropped with 429, as Serverledge drops what it cannot serve.
    #[arg(
        long = "serverledge-queue-s",
        env = "CANOPY_SERVERLEDGE_QUEUE_S",
        default_value_t = 30
    )]
    pub queue_s: u64,

    /// Longest a synchronous `/invoke` is held open, seconds (queueing plus execution); a task
    /// still running then answers 500 and can be followed with `GET /v1/task/{id}`.
    #[arg(
        long = "serverledge-wait-s",
        env = "CANOPY_SERVERLEDGE_WAIT_S",
        default_value_t = 300
    )]
    pub wait_s: u64,
}

//! Settings of the public endpoints (`/gc/{id}`).

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct EndpointSettings {
    /// Seconds a public call's result can be read with its token alone; later only its owner
    /// (with an access token) can read it.
    #[arg(
        long = "public-result-ttl-s",
        env = "CANOPY_PUBLIC_RESULT_TTL_S",
        default_value_t = 300
    )]
    pub result_ttl_s: u64,

    /// Public calls per second one client address may make (per replica), across endpoints.
    #[arg(
        long = "public-rate-per-client",
        env = "CANOPY_PUBLIC_RATE_PER_CLIENT",
        default_value_t = 5.0
    )]
    pub rate_per_client: f64,

    /// Burst of calls one client address may make at once.
    #[arg(
        long = "public-burst-per-client",
        env = "CANOPY_PUBLIC_BURST_PER_CLIENT",
        default_value_t = 20.0
    )]
    pub burst_per_client: f64,

    /// Public calls per second one endpoint accepts (per replica), whoever calls.
    #[arg(
        long = "public-rate-per-endpoint",
        env = "CANOPY_PUBLIC_RATE_PER_ENDPOINT",
        default_value_t = 50.0
    )]
    pub rate_per_endpoint: f64,

    /// Burst of calls one endpoint accepts at once.
    #[arg(
        long = "public-burst-per-endpoint",
        env = "CANOPY_PUBLIC_BURST_PER_ENDPOINT",
        default_value_t = 200.0
    )]
    pub burst_per_endpoint: f64,

    /// A public call no worker took within this many seconds fails as `deadline_exceeded`, so
    /// calls to an endpoint nobody can serve do not pile up in the queue.
    #[arg(
        id = "public_queue_s",
        long = "public-queue-s",
        env = "CANOPY_PUBLIC_QUEUE_S",
        default_value_t = 300
    )]
    pub queue_s: u64,
}

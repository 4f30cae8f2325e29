//! Typed settings of the dispatcher: flags, each with a `CANOPY_…` environment variable and a
//! default. Parsed and validated once at start; secrets never print.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::Args;

/// A secret value: shown as `***` in Debug output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Secret(value.to_owned()))
    }
}

/// Everything `canopy-dispatcher serve` needs.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address the HTTP API listens on (port 0 picks a free port).
    #[arg(long, env = "CANOPY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseSettings,

    #[command(flatten)]
    pub auth: AuthSettings,

    #[command(flatten)]
    pub smtp: SmtpArgs,

    #[command(flatten)]
    pub dispatch: DispatchSettings,

    #[command(flatten)]
    pub serverledge: crate::serverledge::ServerledgeSettings,

    #[command(flatten)]
    pub endpoints: crate::endpoints::EndpointSettings,

    #[command(flatten)]
    pub triggers: crate::triggers::TriggerSettings,

    #[command(flatten)]
    pub schedules: crate::schedules::ScheduleSettings,

    #[command(flatten)]
    pub history: crate::history::HistorySettings,

    #[command(flatten)]
    pub quotas: crate::quotas::QuotaSettings,

    /// HTTP worker threads (0 = one per CPU).
    #[arg(long, env = "CANOPY_HTTP_WORKERS", default_value_t = 0)]
    pub http_workers: usize,

    /// Log format: `text` (each line with its span chain), `json` for log shippers, or `short`
    /// (one line per request and per event, no spans).
    #[arg(long, env = "CANOPY_LOG_FORMAT", default_value = "text", value_parser = ["text", "json", "short"])]
    pub log_format: String,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// PostgreSQL URL. When absent, an embedded private cluster is started under the state directory.
    #[arg(long = "database-url", env = "CANOPY_DATABASE_URL")]
    pub url: Option<Secret>,

    /// Directory for the embedded database and other local state.
    #[arg(long, env = "CANOPY_STATE_DIR", default_value = ".canopy")]
    pub state_dir: PathBuf,

    /// Directory holding `initdb`, `pg_ctl` and `postgres` for the embedded database
    /// (default: searched in /usr/lib/postgresql/*/bin and PATH).
    #[arg(long, env = "CANOPY_PG_BIN_DIR")]
    pub pg_bin_dir: Option<PathBuf>,

    /// Largest number of pooled database connections (batched report and lease writes use 3
    /// more of their own).
    #[arg(
        long = "database-max-connections",
        env = "CANOPY_DATABASE_MAX_CONNECTIONS",
        default_value_t = 20
    )]
    pub max_connections: u32,
}

/// Accounts and credentials.
#[derive(Debug, Clone, Args)]
pub struct AuthSettings {
    /// Activate new accounts at once instead of mailing a code (for local use and tests).
    #[arg(long = "auth-auto-activate", env = "CANOPY_AUTH_AUTO_ACTIVATE", default_value = "false",
          value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub auto_activate: bool,

    /// Key that signs access tokens. When absent, one is generated once and shared by all
    /// replicas through the database.
    #[arg(long = "jwt-secret", env = "CANOPY_JWT_SECRET")]
    pub jwt_secret: Option<Secret>,

    /// Token that `GET /metrics` requires (`Authorization: Bearer <token>`). When absent,
    /// `/metrics` answers only clients on a loopback address.
    #[arg(long = "metrics-token", env = "CANOPY_METRICS_TOKEN")]
    pub metrics_token: Option<Secret>,

    /// Lifetime of an access token, in seconds.
    #[arg(
        long = "access-token-ttl-s",
        env = "CANOPY_ACCESS_TOKEN_TTL_S",
        default_value_t = 3600
    )]
    pub access_token_ttl_s: i64,

    /// Lifetime of a refresh token, in days.
    #[arg(
        long = "refresh-token-ttl-days",
        env = "CANOPY_REFRESH_TOKEN_TTL_DAYS",
        default_value_t = 30
    )]
    pub refresh_token_ttl_days: i64,

    /// Failed logins allowed per email within the window before 429.
    #[arg(
        long = "login-max-failures-per-email",
        env = "CANOPY_LOGIN_MAX_FAILURES_PER_EMAIL",
        default_value_t = 5
    )]
    pub login_max_failures_per_email: i64,

    /// Failed logins allowed per client address within the window before 429.
    #[arg(
        long = "login-max-failures-per-addr",
        env = "CANOPY_LOGIN_MAX_FAILURES_PER_ADDR",
        default_value_t = 20
    )]
    pub login_max_failures_per_addr: i64,

    /// Window over which failed logins are counted, in seconds.
    #[arg(
        long = "login-window-s",
        env = "CANOPY_LOGIN_WINDOW_S",
        default_value_t = 900
    )]
    pub login_window_s: i64,
}

/// Tasks, builds and the worker gateway.
#[derive(Debug, Clone, Args)]
pub struct DispatchSettings {
    #[command(flatten)]
    pub carbon: crate::dispatch::feeds::CarbonSettings,

    /// How often workers send heartbeats and the dispatcher pings them, ms.
    #[arg(
        long = "heartbeat-interval-ms",
        env = "CANOPY_HEARTBEAT_INTERVAL_MS",
        default_value_t = 5000
    )]
    pub heartbeat_interval_ms: u64,

    /// Lease of an assignment, renewed by heartbeats, ms.
    #[arg(long = "lease-ms", env = "CANOPY_LEASE_MS", default_value_t = 30_000)]
    pub lease_ms: u64,

    /// How long a disconnected worker's tasks wait for it to come back before they are re-queued, s.
    #[arg(
        long = "disconnect-grace-s",
        env = "CANOPY_DISCONNECT_GRACE_S",
        default_value_t = 10
    )]
    pub disconnect_grace_s: u64,

    /// Time an attempt may run beyond its function's timeout (container start, code download)
    /// before the dispatcher ends it as timed out, whatever its worker's heartbeats say, s.
    #[arg(
        long = "timeout-grace-s",
        env = "CANOPY_TIMEOUT_GRACE_S",
        default_value_t = 30
    )]
    pub timeout_grace_s: u64,

    /// Attempts before a task whose workers keep vanishing fails with reason `lost`.
    #[arg(
        long = "max-attempts",
        env = "CANOPY_MAX_ATTEMPTS",
        default_value_t = 3
    )]
    pub max_attempts: u32,

    /// A volunteer node whose verification score (+1 per agreeing vote, -5 per disagreeing one,
    /// docs/security.md) falls below this stops receiving other accounts' tasks.
    #[arg(
        long = "min-trust-score",
        env = "CANOPY_MIN_TRUST_SCORE",
        default_value_t = -10,
        allow_negative_numbers = true
    )]
    pub min_trust_score: i32,

    /// Largest WebSocket message from a worker, bytes.
    #[arg(long = "max-frame-bytes", env = "CANOPY_MAX_FRAME_BYTES", default_value_t = canopy_shared::protocol::MAX_FRAME_BYTES)]
    pub max_frame_bytes: usize,

    /// Messages a worker may send per second on average (bursts of 10× are fine); more closes
    /// its connection as a flood.
    #[arg(
        long = "worker-message-rate",
        env = "CANOPY_WORKER_MESSAGE_RATE",
        default_value_t = 1000
    )]
    pub worker_message_rate: u32,

    /// Group commits in flight at once; each writes every submission that arrived meanwhile.
    #[arg(long = "committers", env = "CANOPY_COMMITTERS", default_value_t = 2)]
    pub committers: usize,

    /// Largest task request body, bytes.
    #[arg(long = "task-body-limit", env = "CANOPY_TASK_BODY_LIMIT", default_value_t = 6 * 1024 * 1024)]
    pub task_body_limit: usize,

    /// Largest code archive accepted by the build API, bytes.
    #[arg(long = "build-archive-limit", env = "CANOPY_BUILD_ARCHIVE_LIMIT", default_value_t = 50 * 1024 * 1024)]
    pub build_archive_limit: usize,

    /// Largest compiled package (source + binary) a node may upload for a compile job, bytes.
    #[arg(long = "compiled-package-limit", env = "CANOPY_COMPILED_PACKAGE_LIMIT", default_value_t = 128 * 1024 * 1024)]
    pub compiled_package_limit: usize,

    /// Code uploads received and unpacked at once (each spools to disk: up to its archive, the
    /// unpacked files and the package). Others wait (see --busy-wait-s).
    #[arg(
        long = "concurrent-builds",
        env = "CANOPY_CONCURRENT_BUILDS",
        default_value_t = 2
    )]
    pub concurrent_builds: usize,

    /// Code packages served to workers at once (each streams in 1 MiB chunks).
    #[arg(
        long = "concurrent-artifact-downloads",
        env = "CANOPY_CONCURRENT_ARTIFACT_DOWNLOADS",
        default_value_t = 4
    )]
    pub concurrent_artifact_downloads: usize,

    /// Seconds a code upload's body may take to arrive (a slow uploader must not hold a turn).
    #[arg(
        long = "upload-timeout-s",
        env = "CANOPY_UPLOAD_TIMEOUT_S",
        default_value_t = 60
    )]
    pub upload_timeout_s: u64,

    /// Memory (MiB) code uploads and artifact downloads may hold together: each takes a fixed
    /// working set (8 MiB an upload, 2 MiB a download; bodies go to disk and packages stream in
    /// 1 MiB chunks); past it callers wait (see --busy-wait-s), then get 503 TRANSFER_MEMORY_BUSY.
    #[arg(
        long = "transfer-memory-mb",
        env = "CANOPY_TRANSFER_MEMORY_MB",
        default_value_t = 64
    )]
    pub transfer_memory_mb: u64,

    /// Seconds an upload or artifact download waits for its turn before a 503 with Retry-After.
    #[arg(long = "busy-wait-s", env = "CANOPY_BUSY_WAIT_S", default_value_t = 30)]
    pub busy_wait_s: u64,
}

impl DispatchSettings {
    /// A node counts as connected when some replica saw it within three heartbeats.
    pub fn connected_window_s(&self) -> f64 {
        3.0 * self.heartbeat_interval_ms as f64 / 1000.0
    }
}

/// SMTP relay for account emails; without `--smtp-host` the codes go to the log.
#[derive(Debug, Clone, Args)]
pub struct SmtpArgs {
    /// SMTP relay host.
    #[arg(long = "smtp-host", env = "CANOPY_SMTP_HOST")]
    pub host: Option<String>,
    /// SMTP port.
    #[arg(long = "smtp-port", env = "CANOPY_SMTP_PORT", default_value_t = 587)]
    pub port: u16,
    /// SMTP user name.
    #[arg(long = "smtp-username", env = "CANOPY_SMTP_USERNAME")]
    pub username: Option<String>,
    /// SMTP password.
    #[arg(long = "smtp-password", env = "CANOPY_SMTP_PASSWORD")]
    pub password: Option<Secret>,
    /// Sender address of account emails.
    #[arg(
        long = "smtp-from",
        env = "CANOPY_SMTP_FROM",
        default_value = "Canopy <no-reply@localhost>"
    )]
    pub from: String,
    /// Use STARTTLS (turn off only for a local relay).
    #[arg(long = "smtp-starttls", env = "CANOPY_SMTP_STARTTLS", default_value = "true",
          value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub starttls: bool,
}

/// SMTP settings once a host is given.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    pub starttls: bool,
}

impl SmtpArgs {
    pub fn settings(&self) -> Option<SmtpSettings> {
        self.host.as_ref().map(|host| SmtpSettings {
            host: host.clone(),
            port: self.port,
            username: self.username.clone(),
            password: self.password.clone(),
            from: self.from.clone(),
            starttls: self.starttls,
        })
    }
}

impl Settings {
    /// Checks what clap's types cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.auth.access_token_ttl_s >= 60,
            "--access-token-ttl-s must be at least 60"
        );
        anyhow::ensure!(
            self.auth.refresh_token_ttl_days >= 1,
            "--refresh-token-ttl-days must be at least 1"
        );
        anyhow::ensure!(
            self.auth.login_window_s >= 1,
            "--login-window-s must be at least 1"
        );
        anyhow::ensure!(
            self.database.max_connections >= 2,
            "--database-max-connections must be at least 2"
        );
        anyhow::ensure!(
            (1..=64).contains(&self.dispatch.committers),
            "--committers must be between 1 and 64"
        );
        anyhow::ensure!(
            self.dispatch.concurrent_builds >= 1
                && self.dispatch.concurrent_artifact_downloads >= 1,
            "--concurrent-builds and --concurrent-artifact-downloads must be at least 1"
        );
        let result_frame = canopy_shared::protocol::result_frame_bytes(
            canopy_shared::protocol::MAX_RESPONSE_BYTES,
        );
        anyhow::ensure!(
            self.dispatch.max_frame_bytes >= result_frame,
            "--max-frame-bytes must be at least {result_frame}: a result with the largest response must fit"
        );
        if let Some(secret) = &self.auth.jwt_secret {
            anyhow::ensure!(
                secret.expose().len() >= 32,
                "--jwt-secret must be at least 32 characters"
            );
        }
        Ok(())
    }

    /// Defaults, as if no flag or variable were given; tests start from this.
    pub fn defaults() -> Self {
        use clap::{Command, FromArgMatches};
        let command = Settings::augment_args(Command::new("defaults"));
        let matches = command
            .no_binary_name(true)
            .get_matches_from(Vec::<String>::new());
        // Defaults always parse; a failure here is a programming error caught by the unit test below.
        Settings::from_arg_matches(&matches)
            .unwrap_or_else(|error| panic!("default settings do not parse: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let settings = Settings::defaults();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert!(!settings.auth.auto_activate);
        assert!(settings.validate().is_ok());
    }

    #[test]
    fn boolean_flags_take_an_optional_value() {
        use clap::{Command, FromArgMatches};
        let parse = |args: &[&str]| {
            let matches = Settings::augment_args(Command::new("t"))
                .no_binary_name(true)
                .try_get_matches_from(args.iter().copied());
            matches
                .ok()
                .and_then(|m| Settings::from_arg_matches(&m).ok())
                .map(|s| s.auth.auto_activate)
        };
        assert_eq!(parse(&["--auth-auto-activate"]), Some(true));
        assert_eq!(parse(&["--auth-auto-activate", "true"]), Some(true));
        assert_eq!(parse(&["--auth-auto-activate", "false"]), Some(false));
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}

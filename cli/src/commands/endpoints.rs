//! `canopy endpoint create|list|get|rm|metrics`: public URLs (`/gc/{id}`) for functions.

use canopy_shared::api::endpoint::{
    EndpointBody, EndpointMetricsView, EndpointView, Origins, TimeLimit,
};
use canopy_shared::api::Created;
use reqwest::Method;

use crate::error::{CliError, CliResult};
use crate::ids::parse_id;
use crate::output::{or_dash, Out, OutputArgs};
use crate::project::function_id;
use crate::session::{self, Target};

#[derive(Debug, clap::Args)]
pub struct EndpointArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(subcommand)]
    pub command: EndpointCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum EndpointCommand {
    /// Publishes a function at a public URL (no auth) with optional limits.
    Create(CreateArgs),
    /// The caller's endpoints.
    List {
        #[arg(long, value_parser = parse_id)]
        function: Option<String>,
    },
    Get {
        #[arg(value_parser = parse_id)]
        id: String,
    },
    #[command(visible_alias = "delete")]
    Rm {
        #[arg(value_parser = parse_id)]
        id: String,
    },
    /// Today's and this week's tasks and calls.
    Metrics {
        #[arg(value_parser = parse_id)]
        id: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The function [default: the id in ./.canopy.toml].
    #[arg(value_parser = parse_id)]
    pub function: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Calls per day (-1 = unlimited).
    #[arg(long)]
    pub daily_limit: Option<i64>,
    /// An allowed browser origin, e.g. https://example.com (repeat).
    #[arg(long = "origin")]
    pub origins: Vec<String>,
    /// An allowed client address or CIDR block (repeat).
    #[arg(long = "ip")]
    pub ips: Vec<String>,
    /// Daily window start `HH:MM` (with --to and --timezone).
    #[arg(long, requires_all = ["to", "timezone"])]
    pub from: Option<String>,
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// IANA timezone of the window.
    #[arg(long, requires = "from")]
    pub timezone: Option<String>,
}

pub async fn run(target: &Target, args: EndpointArgs) -> CliResult<()> {
    let out = Out::new(&args.out);
    let api = session::connect(target).await?;
    match args.command {
        EndpointCommand::Create(create) => {
            let function = function_id(create.function)?;
            let time_limit = match (create.from, create.to, create.timezone) {
                (Some(from), Some(to), Some(timezone)) => {
                    Some(Some(TimeLimit { from, to, timezone }))
                }
                (None, None, None) => None,
                _ => {
                    return Err(CliError::usage(
                        "INVALID_TIME_LIMIT",
                        "--from, --to and --timezone go together",
                    ))
                }
            };
            let body = EndpointBody {
                description: create.description,
                tag: None,
                daily_limit: create.daily_limit,
                origin: (!create.origins.is_empty()).then_some(Origins::Many(create.origins)),
                ip: (!create.ips.is_empty()).then_some(create.ips),
                time_limit,
            };
            let created: Created = api.post(&format!("/v1/endpoint/{function}"), &body).await?;
            let url = api.url(&format!("/gc/{}", created.id));
            out.one(
                &serde_json::json!({ "id": created.id, "url": url }),
                &created.id,
                vec![
                    ("Created endpoint", created.id.clone()),
                    ("public URL", url.clone()),
                ],
            )
        }
        EndpointCommand::List { function } => {
            let filters: Vec<(&str, String)> =
                function.map(|id| ("functionId", id)).into_iter().collect();
            let endpoints: Vec<EndpointView> = api.all_pages("/v1/endpoint/list", &filters).await?;
            out.list(
                &endpoints,
                |e| e.id.clone(),
                &["ID", "FUNCTION", "DAILY LIMIT", "URL"],
                |e| {
                    vec![
                        e.id.clone(),
                        e.function_id.clone(),
                        e.daily_limit.to_string(),
                        api.url(&e.url),
                    ]
                },
            )
        }
        EndpointCommand::Get { id } => {
            let endpoint: EndpointView = api.get(&format!("/v1/endpoint/{id}")).await?;
            let window = endpoint
                .time_limit
                .as_ref()
                .map(|limit| format!("{}–{} {}", limit.from, limit.to, limit.timezone));
            out.one(
                &endpoint,
                &endpoint.id,
                vec![
                    ("id", endpoint.id.clone()),
                    ("function", endpoint.function_id.clone()),
                    ("url", api.url(&endpoint.url)),
                    ("description", endpoint.description.clone()),
                    ("daily limit", endpoint.daily_limit.to_string()),
                    ("origins", endpoint.origin.join(",")),
                    ("addresses", endpoint.ip.join(",")),
                    ("window", or_dash(window)),
                ],
            )
        }
        EndpointCommand::Rm { id } => {
            api.call::<()>(Method::DELETE, &format!("/v1/endpoint/{id}"), None)
                .await?;
            out.done(&id, "deleted", &format!("Deleted endpoint {id}"))
        }
        EndpointCommand::Metrics { id } => {
            let metrics: EndpointMetricsView =
                api.get(&format!("/v1/endpoint/{id}/metrics")).await?;
            out.one(
                &metrics,
                &id,
                vec![
                    (
                        "calls today",
                        format!("{} of {}", metrics.today_calls, metrics.daily_limit),
                    ),
                    ("tasks today", metrics.today_tasks.to_string()),
                    ("tasks this week", metrics.week_tasks.to_string()),
                    ("pending", metrics.pending_tasks.to_string()),
                    ("succeeded", metrics.succeeded_tasks.to_string()),
                    ("failed", metrics.failed_tasks.to_string()),
                ],
            )
        }
    }
}

//! `canopy schedule create|list|get|rm|pause|resume|try`: cron schedules of a function.

use canopy_shared::api::schedule::{CreateSchedule, ScheduleView, UpdateSchedule};
use canopy_shared::api::Created;
use reqwest::Method;

use crate::error::CliResult;
use crate::ids::parse_id;
use crate::output::{or_dash, yes_no, Out, OutputArgs};
use crate::project::function_id;
use crate::session::{self, Target};

#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(subcommand)]
    pub command: ScheduleCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ScheduleCommand {
    /// Runs the function on a cron (`*/5 * * * *`, `@daily`, …) in a timezone.
    Create {
        /// The function [default: the id in ./.canopy.toml].
        #[arg(long, value_parser = parse_id)]
        function: Option<String>,
        #[arg(long)]
        cron: String,
        /// IANA name, e.g. Europe/Rome.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        #[arg(long)]
        description: Option<String>,
    },
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
    /// Stops the schedule's runs.
    Pause {
        #[arg(value_parser = parse_id)]
        id: String,
    },
    /// Starts the schedule's runs again.
    Resume {
        #[arg(value_parser = parse_id)]
        id: String,
    },
    /// A run now; prints the task id.
    Try {
        #[arg(value_parser = parse_id)]
        id: String,
    },
}

pub async fn run(target: &Target, args: ScheduleArgs) -> CliResult<()> {
    let out = Out::new(&args.out);
    let api = session::connect(target).await?;
    match args.command {
        ScheduleCommand::Create {
            function,
            cron,
            timezone,
            description,
        } => {
            let body = CreateSchedule {
                function_id: function_id(function)?,
                cron,
                timezone,
                description,
            };
            let created: Created = api.post("/v1/scheduled", &body).await?;
            out.done(
                &created.id,
                "created",
                &format!("Created schedule {}", created.id),
            )
        }
        ScheduleCommand::List { function } => {
            let filters: Vec<(&str, String)> =
                function.map(|id| ("functionId", id)).into_iter().collect();
            let schedules: Vec<ScheduleView> =
                api.all_pages("/v1/scheduled/list", &filters).await?;
            out.list(
                &schedules,
                |s| s.id.clone(),
                &["ID", "FUNCTION", "CRON", "TIMEZONE", "ACTIVE", "NEXT RUN"],
                |s| {
                    vec![
                        s.id.clone(),
                        s.function_id.clone(),
                        s.cron.clone(),
                        s.timezone.clone(),
                        yes_no(s.active),
                        or_dash(s.next_run_at.map(|at| at.to_rfc3339())),
                    ]
                },
            )
        }
        ScheduleCommand::Get { id } => {
            let schedule: ScheduleView = api.get(&format!("/v1/scheduled/{id}")).await?;
            out.one(
                &schedule,
                &schedule.id,
                vec![
                    ("id", schedule.id.clone()),
                    ("function", schedule.function_id.clone()),
                    ("cron", format!("{} ({})", schedule.cron, schedule.timezone)),
                    ("active", yes_no(schedule.active)),
                    (
                        "next run",
                        or_dash(schedule.next_run_at.map(|at| at.to_rfc3339())),
                    ),
                    (
                        "last run",
                        or_dash(schedule.last_run_at.map(|at| at.to_rfc3339())),
                    ),
                    ("payload query", schedule.inline_payload.query.clone()),
                ],
            )
        }
        ScheduleCommand::Rm { id } => {
            api.call::<()>(Method::DELETE, &format!("/v1/scheduled/{id}"), None)
                .await?;
            out.done(&id, "deleted", &format!("Deleted schedule {id}"))
        }
        ScheduleCommand::Pause { id } => set_active(&api, out, &id, false).await,
        ScheduleCommand::Resume { id } => set_active(&api, out, &id, true).await,
        ScheduleCommand::Try { id } => {
            let response = api
                .send(api.request(Method::POST, &format!("/v1/scheduled/{id}/try")))
                .await?;
            let task: Created = crate::client::decode(response).await?;
            out.done(&task.id, "queued", &format!("Started task {}", task.id))
        }
    }
}

async fn set_active(api: &crate::client::Api, out: Out, id: &str, active: bool) -> CliResult<()> {
    let change = UpdateSchedule {
        active: Some(active),
        ..UpdateSchedule::default()
    };
    api.call(Method::PATCH, &format!("/v1/scheduled/{id}"), Some(&change))
        .await?;
    let status = if active { "active" } else { "paused" };
    out.done(id, status, &format!("Schedule {id} is {status}"))
}

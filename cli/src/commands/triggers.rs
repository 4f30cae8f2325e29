//! `canopy trigger create|list|get|rm`: chain functions, a task of one when a task of another ends.

use canopy_shared::api::trigger::{CreateTrigger, TriggerView};
use canopy_shared::api::Created;
use reqwest::Method;

use crate::error::CliResult;
use crate::ids::parse_id;
use crate::output::{yes_no, Out, OutputArgs};
use crate::session::{self, Target};

#[derive(Debug, clap::Args)]
pub struct TriggerArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(subcommand)]
    pub command: TriggerCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TriggerCommand {
    /// Runs a task of --next each time a task of --function ends (with --status, if given).
    Create {
        /// The source function.
        #[arg(long, value_parser = parse_id)]
        function: String,
        /// The function a task is submitted to.
        #[arg(long, value_parser = parse_id)]
        next: String,
        /// Pass the source's response as the next task's body.
        #[arg(long)]
        include_result: bool,
        /// Fire only when the source answered this HTTP status (default: any end but a cancel).
        #[arg(long)]
        status: Option<i64>,
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
}

pub async fn run(target: &Target, args: TriggerArgs) -> CliResult<()> {
    let out = Out::new(&args.out);
    let api = session::connect(target).await?;
    match args.command {
        TriggerCommand::Create {
            function,
            next,
            include_result,
            status,
            description,
        } => {
            let body = CreateTrigger {
                function_id: function,
                next_id: next,
                include_result,
                status,
                tag: None,
                description,
            };
            let created: Created = api.post("/v1/trigger", &body).await?;
            out.done(
                &created.id,
                "created",
                &format!("Created trigger {}", created.id),
            )
        }
        TriggerCommand::List { function } => {
            let filters: Vec<(&str, String)> =
                function.map(|id| ("functionId", id)).into_iter().collect();
            let triggers: Vec<TriggerView> = api.all_pages("/v1/trigger/list", &filters).await?;
            out.list(
                &triggers,
                |t| t.id.clone(),
                &["ID", "FUNCTION", "NEXT", "STATUS", "FIRED", "REFUSED"],
                |t| {
                    vec![
                        t.id.clone(),
                        t.function_id.clone(),
                        t.next_id.clone(),
                        t.status.to_string(),
                        t.fired.to_string(),
                        t.refused.to_string(),
                    ]
                },
            )
        }
        TriggerCommand::Get { id } => {
            let trigger: TriggerView = api.get(&format!("/v1/trigger/{id}")).await?;
            out.one(
                &trigger,
                &trigger.id,
                vec![
                    ("id", trigger.id.clone()),
                    ("function", trigger.function_id.clone()),
                    ("next", trigger.next_id.clone()),
                    ("on status", trigger.status.to_string()),
                    ("include result", yes_no(trigger.include_result)),
                    ("fired", trigger.fired.to_string()),
                    ("refused", trigger.refused.to_string()),
                    ("pending", trigger.pending.to_string()),
                ],
            )
        }
        TriggerCommand::Rm { id } => {
            api.call::<()>(Method::DELETE, &format!("/v1/trigger/{id}"), None)
                .await?;
            out.done(&id, "deleted", &format!("Deleted trigger {id}"))
        }
    }
}

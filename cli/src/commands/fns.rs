//! `canopy fn …`: the function API (list, get, edit, rm, restore, pause, capabilities, builds);
//! `init` and `deploy` are in `deploy`.

use canopy_shared::api::build::BuildSummary;
use canopy_shared::api::function::{FunctionDetail, FunctionSummary, UpdateFunction};
use canopy_shared::api::Page;
use reqwest::Method;

use super::capabilities::{self, capability_line, CapabilityArgs};
use super::deploy::{self, DeployArgs, InitArgs};
use crate::client::Api;
use crate::error::CliResult;
use crate::ids::parse_id;
use crate::output::{yes_no, Out, OutputArgs};
use crate::project::function_id;
use crate::session::{self, Target};

#[derive(Debug, clap::Args)]
pub struct FnArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(subcommand)]
    pub command: FnCommand,
}

/// Commands that act on one function take its id, or use the one of `./.canopy.toml`.
#[derive(Debug, clap::Subcommand)]
pub enum FnCommand {
    /// Creates a function and writes a template and .canopy.toml into a folder.
    Init(InitArgs),
    /// Packs the folder (honouring .canopyignore), uploads it and prints the build.
    Deploy(DeployArgs),
    /// The caller's functions.
    List {
        /// Only functions with this tag id.
        #[arg(long, value_parser = parse_id)]
        tag: Option<String>,
    },
    /// One function with its capabilities and task counters.
    Get {
        #[arg(value_parser = parse_id)]
        id: Option<String>,
    },
    /// Changes name, description or tags; what is not given stays.
    Edit {
        #[arg(value_parser = parse_id)]
        id: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Tag ids (repeat; replaces the function's tags).
        #[arg(long = "tag", value_parser = parse_id)]
        tags: Option<Vec<String>>,
    },
    /// Deletes a function (`restore` brings it back).
    #[command(alias = "delete")]
    Rm {
        #[arg(value_parser = parse_id)]
        id: Option<String>,
    },
    /// Brings a deleted function back.
    Restore {
        #[arg(value_parser = parse_id)]
        id: Option<String>,
    },
    /// Pauses a function: new tasks are refused (409 FUNCTION_PAUSED).
    Pause {
        #[arg(value_parser = parse_id)]
        id: Option<String>,
    },
    /// Lets a paused function take tasks again.
    Resume {
        #[arg(value_parser = parse_id)]
        id: Option<String>,
    },
    /// Shows the capabilities, or changes those given.
    Capabilities(CapabilityArgs),
    /// Shows k-of-n result verification, or sets it with `--quorum`.
    Verify(super::verification::VerifyArgs),
    /// The function's builds, newest first.
    Builds {
        #[arg(value_parser = parse_id)]
        id: Option<String>,
        /// Page number, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
    },
}

pub async fn run(target: &Target, args: FnArgs) -> CliResult<()> {
    let out = Out::new(&args.out);
    match args.command {
        FnCommand::Init(init) => return deploy::init(target, out, init).await,
        FnCommand::Deploy(deploy) => return deploy::deploy(target, out, deploy).await,
        _ => {}
    }
    let api = session::connect(target).await?;
    match args.command {
        FnCommand::Init(_) | FnCommand::Deploy(_) => Ok(()),
        FnCommand::List { tag } => list(&api, out, tag).await,
        FnCommand::Get { id } => {
            let id = function_id(id)?;
            let function: FunctionDetail = api.get(&format!("/v1/function/{id}")).await?;
            print_function(out, &function)
        }
        FnCommand::Edit {
            id,
            name,
            description,
            tags,
        } => {
            let id = function_id(id)?;
            let change = UpdateFunction {
                name,
                description,
                tag: tags,
                image: None,
            };
            api.call(Method::PATCH, &format!("/v1/function/{id}"), Some(&change))
                .await?;
            out.done(&id, "updated", &format!("Updated function {id}"))
        }
        FnCommand::Rm { id } => {
            let id = function_id(id)?;
            api.call::<()>(Method::DELETE, &format!("/v1/function/{id}"), None)
                .await?;
            out.done(
                &id,
                "deleted",
                &format!("Deleted function {id} (`canopy fn restore {id}` brings it back)"),
            )
        }
        FnCommand::Restore { id } => {
            let id = function_id(id)?;
            api.call::<()>(Method::POST, &format!("/v1/function/{id}/restore"), None)
                .await?;
            out.done(&id, "restored", &format!("Restored function {id}"))
        }
        FnCommand::Pause { id } => set_paused(&api, out, function_id(id)?, true).await,
        FnCommand::Resume { id } => set_paused(&api, out, function_id(id)?, false).await,
        FnCommand::Capabilities(args) => capabilities::run(&api, out, args).await,
        FnCommand::Verify(args) => super::verification::run(&api, out, args).await,
        FnCommand::Builds { id, page } => {
            let id = function_id(id)?;
            let builds: Page<BuildSummary> = api
                .get(&format!(
                    "/v1/build/list?functionId={id}&page={page}&limit=100"
                ))
                .await?;
            out.list(
                &builds.results,
                |b| b.id.clone(),
                &["ID", "STATUS", "CREATED"],
                |b| vec![b.id.clone(), b.status.clone(), b.created_at.to_rfc3339()],
            )
        }
    }
}

/// Every page of the list (the API pages with `X-Next-Cursor`).
async fn list(api: &Api, out: Out, tag: Option<String>) -> CliResult<()> {
    let mut functions: Vec<FunctionSummary> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/function/list?limit=1000".to_owned();
        if let Some(tag) = &tag {
            path.push_str(&format!("&tag={tag}"));
        }
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let response = api.send(api.request(Method::GET, &path)).await?;
        cursor = response
            .headers()
            .get("x-next-cursor")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let page: Vec<FunctionSummary> = crate::client::decode(response).await?;
        functions.extend(page);
        if cursor.is_none() {
            break;
        }
    }
    out.list(
        &functions,
        |f| f.id.clone(),
        &["ID", "NAME", "LANG", "PAUSED", "TAGS"],
        |f| {
            let tags: Vec<&str> = f.tags.iter().map(|tag| tag.name.as_str()).collect();
            vec![
                f.id.clone(),
                f.name.clone(),
                f.lang.clone(),
                yes_no(f.paused),
                tags.join(","),
            ]
        },
    )
}

fn print_function(out: Out, function: &FunctionDetail) -> CliResult<()> {
    let caps = &function.capabilities;
    let metrics = &function.metrics;
    out.one(
        function,
        &function.id,
        vec![
            ("id", function.id.clone()),
            ("name", function.name.clone()),
            ("description", function.description.clone()),
            ("lang", function.lang.clone()),
            ("paused", yes_no(function.paused)),
            (
                "tags",
                function
                    .tags
                    .iter()
                    .map(|t| t.name.clone())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("capabilities", capability_line(caps)),
            ("tasks today", metrics.todays_tasks.to_string()),
            ("tasks pending", metrics.pending_tasks.to_string()),
            ("tasks completed", metrics.completed_tasks.to_string()),
        ],
    )
}

/// The API only toggles; reading first makes `pause` and `resume` idempotent.
async fn set_paused(api: &Api, out: Out, id: String, paused: bool) -> CliResult<()> {
    let function: FunctionDetail = api.get(&format!("/v1/function/{id}")).await?;
    if function.paused != paused {
        api.call::<()>(
            Method::POST,
            &format!("/v1/function/{id}/togglePause"),
            None,
        )
        .await?;
    }
    let (status, sentence) = if paused {
        ("paused", format!("Function {id} is paused"))
    } else {
        ("running", format!("Function {id} takes tasks"))
    };
    out.done(&id, status, &sentence)
}

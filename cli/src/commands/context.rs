//! `canopy context list|use`: the servers logged in to, and which one commands talk to.

use serde::Serialize;

use crate::error::{CliError, CliResult};
use crate::output::{Out, OutputArgs};
use crate::session::Store;

#[derive(Debug, clap::Args)]
pub struct ContextArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(subcommand)]
    pub command: ContextCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ContextCommand {
    /// The contexts, the current one marked.
    List,
    /// Makes a context current.
    Use { name: String },
}

/// A context as listed (never its secrets).
#[derive(Debug, Serialize)]
struct ContextView {
    name: String,
    url: String,
    email: Option<String>,
    current: bool,
    /// `api_key`, `password` or `none`.
    login: &'static str,
}

pub fn run(args: ContextArgs) -> CliResult<()> {
    let out = Out::new(&args.out);
    let mut store = Store::open()?;
    match args.command {
        ContextCommand::List => {
            let current = store.config.current.clone();
            let views: Vec<ContextView> = store
                .config
                .contexts
                .iter()
                .map(|(name, context)| ContextView {
                    name: name.clone(),
                    url: context.url.clone(),
                    email: context.email.clone(),
                    current: current.as_deref() == Some(name.as_str()),
                    login: if context.api_key.is_some() {
                        "api_key"
                    } else if context.refresh_token.is_some() {
                        "password"
                    } else {
                        "none"
                    },
                })
                .collect();
            out.list(
                &views,
                |view| view.name.clone(),
                &["CURRENT", "NAME", "URL", "EMAIL", "LOGIN"],
                |view| {
                    vec![
                        if view.current { "*" } else { "" }.to_owned(),
                        view.name.clone(),
                        view.url.clone(),
                        crate::output::or_dash(view.email.clone()),
                        view.login.to_owned(),
                    ]
                },
            )
        }
        ContextCommand::Use { name } => {
            if !store.config.contexts.contains_key(&name) {
                return Err(CliError::usage(
                    "CONTEXT_NOT_FOUND",
                    format!("no context named {name:?} (see `canopy context list`)"),
                ));
            }
            store.config.current = Some(name.clone());
            store.save()?;
            out.done(&name, "current", &format!("Using context {name}"))
        }
    }
}

//! `canopy node list|disable|restore|rm`: the caller's volunteer machines.

use canopy_shared::api::node::{NodeToken, NodeView};
use reqwest::Method;

use crate::error::CliResult;
use crate::ids::parse_id;
use crate::output::{or_dash, yes_no, Out, OutputArgs};
use crate::session::{self, Target};

#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(subcommand)]
    pub command: NodeCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum NodeCommand {
    /// The caller's nodes (admins: all) with their live state.
    List,
    /// Revokes a node's token and closes its connection at once (`rm` is the same: the API
    /// keeps the node so `restore` can bring it back).
    #[command(visible_alias = "rm")]
    Disable {
        #[arg(value_parser = parse_id)]
        hash: String,
    },
    /// Brings a disabled node back with a new token (shown once: put it in the worker's config).
    Restore {
        #[arg(value_parser = parse_id)]
        hash: String,
    },
}

pub async fn run(target: &Target, args: NodeArgs) -> CliResult<()> {
    let out = Out::new(&args.out);
    let api = session::connect(target).await?;
    match args.command {
        NodeCommand::List => {
            let nodes: Vec<NodeView> = api.get("/v1/node/list").await?;
            out.list(
                &nodes,
                |n| n.hash.clone(),
                &[
                    "HASH",
                    "DESCRIPTION",
                    "CONNECTED",
                    "DISABLED",
                    "RUNNING",
                    "LATENCY",
                    "LAST SEEN",
                ],
                |n| {
                    vec![
                        n.hash.clone(),
                        n.description.clone(),
                        yes_no(n.connected),
                        yes_no(n.disabled),
                        n.running_tasks.to_string(),
                        or_dash(n.latency_ms.map(|ms| format!("{ms} ms"))),
                        or_dash(n.last_seen.map(|at| at.to_rfc3339())),
                    ]
                },
            )
        }
        NodeCommand::Disable { hash } => {
            api.call::<()>(Method::DELETE, &format!("/v1/node/{hash}"), None)
                .await?;
            out.done(
                &hash,
                "disabled",
                &format!("Disabled node {hash}: its token is revoked"),
            )
        }
        NodeCommand::Restore { hash } => {
            let response = api
                .send(api.request(Method::PATCH, &format!("/v1/node/{hash}")))
                .await?;
            let restored: NodeToken = crate::client::decode(response).await?;
            out.one(
                &restored,
                &restored.hash,
                vec![
                    ("Restored node", restored.hash.clone()),
                    ("new token", restored.token.clone()),
                    (
                        "next",
                        "put the token in the worker's config (node_token) and restart it".into(),
                    ),
                ],
            )
        }
    }
}

//! `canopy key create|list|rotate|revoke`: the caller's API keys.

use canopy_shared::api::user::{ApiKeyView, CreateApiKey, NewApiKey};
use reqwest::Method;

use crate::error::CliResult;
use crate::ids::parse_id;
use crate::output::{or_dash, Out, OutputArgs};
use crate::session::{self, Target};

#[derive(Debug, clap::Args)]
pub struct KeyArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(subcommand)]
    pub command: KeyCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Creates a key; the key is shown this once (`-q` prints the key alone).
    Create {
        /// A label to tell keys apart.
        #[arg(long)]
        name: Option<String>,
    },
    /// The live keys (never their secrets).
    List,
    /// Replaces a key with a new one of the same name; the old one stops working at once.
    Rotate {
        #[arg(value_parser = parse_id)]
        id: String,
    },
    /// Revokes a key at once.
    #[command(visible_alias = "rm")]
    Revoke {
        #[arg(value_parser = parse_id)]
        id: String,
    },
}

pub async fn run(target: &Target, args: KeyArgs) -> CliResult<()> {
    let out = Out::new(&args.out);
    let api = session::connect(target).await?;
    match args.command {
        KeyCommand::Create { name } => {
            let key: NewApiKey = api.post("/v1/user/apiKey", &CreateApiKey { name }).await?;
            print_new(out, &key)
        }
        KeyCommand::List => {
            let keys: Vec<ApiKeyView> = api.get("/v1/user/apiKey").await?;
            out.list(
                &keys,
                |k| k.id.clone(),
                &["ID", "NAME", "PREFIX", "CREATED", "LAST USED"],
                |k| {
                    vec![
                        k.id.clone(),
                        k.name.clone(),
                        k.prefix.clone(),
                        k.created_at.to_rfc3339(),
                        or_dash(k.last_used_at.map(|at| at.to_rfc3339())),
                    ]
                },
            )
        }
        KeyCommand::Rotate { id } => {
            let response = api
                .send(api.request(Method::POST, &format!("/v1/user/apiKey/{id}/rotate")))
                .await?;
            let key: NewApiKey = crate::client::decode(response).await?;
            print_new(out, &key)
        }
        KeyCommand::Revoke { id } => {
            api.call::<()>(Method::DELETE, &format!("/v1/user/apiKey/{id}"), None)
                .await?;
            out.done(&id, "revoked", &format!("Revoked key {id}"))
        }
    }
}

/// A new key: with `-q` the secret itself, which is what scripts want from `key create`.
fn print_new(out: Out, key: &NewApiKey) -> CliResult<()> {
    out.one(
        key,
        &key.key,
        vec![
            ("id", key.id.clone()),
            ("name", key.name.clone()),
            ("key", key.key.clone()),
            ("note", "shown once: store it now".into()),
        ],
    )
}

//! `canopy tag create|list|edit|rm`: the caller's tags.

use canopy_shared::api::tag::{CreateTag, TagView, UpdateTag};
use canopy_shared::api::Created;
use reqwest::Method;

use crate::error::CliResult;
use crate::ids::parse_id;
use crate::output::{or_dash, Out, OutputArgs};
use crate::session::{self, Target};

#[derive(Debug, clap::Args)]
pub struct TagArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(subcommand)]
    pub command: TagCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TagCommand {
    /// Creates a tag (names are unique: 409 TAG_EXISTS).
    Create {
        name: String,
        /// `#rrggbb`.
        #[arg(long)]
        color: Option<String>,
    },
    List,
    /// Renames or recolours a tag.
    Edit {
        #[arg(value_parser = parse_id)]
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        color: Option<String>,
    },
    /// Deletes a tag and detaches it from every function.
    #[command(visible_alias = "delete")]
    Rm {
        #[arg(value_parser = parse_id)]
        id: String,
    },
}

pub async fn run(target: &Target, args: TagArgs) -> CliResult<()> {
    let out = Out::new(&args.out);
    let api = session::connect(target).await?;
    match args.command {
        TagCommand::Create { name, color } => {
            let created: Created = api
                .post(
                    "/v1/tag",
                    &CreateTag {
                        name: name.clone(),
                        color,
                    },
                )
                .await?;
            out.done(
                &created.id,
                "created",
                &format!("Created tag {name} ({})", created.id),
            )
        }
        TagCommand::List => {
            let tags: Vec<TagView> = api.get("/v1/tag/list").await?;
            out.list(
                &tags,
                |t| t.id.clone(),
                &["ID", "NAME", "COLOR"],
                |t| vec![t.id.clone(), t.name.clone(), or_dash(t.color.clone())],
            )
        }
        TagCommand::Edit { id, name, color } => {
            let change = UpdateTag { name, color };
            api.call(Method::PATCH, &format!("/v1/tag/{id}"), Some(&change))
                .await?;
            out.done(&id, "updated", &format!("Updated tag {id}"))
        }
        TagCommand::Rm { id } => {
            api.call::<()>(Method::DELETE, &format!("/v1/tag/{id}"), None)
                .await?;
            out.done(&id, "deleted", &format!("Deleted tag {id}"))
        }
    }
}

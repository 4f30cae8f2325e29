//! `canopy fn verify`: k-of-n result verification of a function's tasks (docs/security.md).

use canopy_shared::api::function::Verification;
use reqwest::Method;

use crate::client::Api;
use crate::error::CliResult;
use crate::ids::parse_id;
use crate::output::Out;
use crate::project::function_id;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    #[arg(value_parser = parse_id)]
    pub id: Option<String>,
    /// Agreeing answers from nodes of different owners a task needs: 2–5, or 0 to turn it off.
    #[arg(long)]
    pub quorum: Option<u32>,
    /// Most runs of one task, the quorum to 10 (default: twice the quorum).
    #[arg(long)]
    pub max_runs: Option<u32>,
}

pub async fn run(api: &Api, out: Out, args: VerifyArgs) -> CliResult<()> {
    let id = function_id(args.id)?;
    let path = format!("/v1/function/{id}/verification");
    let verification: Verification = match args.quorum {
        Some(quorum) => {
            let wanted = Verification {
                quorum,
                max_runs: args.max_runs.unwrap_or(0),
            };
            api.call(Method::PUT, &path, Some(&wanted)).await?;
            api.get(&path).await?
        }
        None => api.get(&path).await?,
    };
    let shown = if verification.quorum == 0 {
        "off".to_owned()
    } else {
        format!(
            "{} agreeing answers, at most {} runs",
            verification.quorum, verification.max_runs
        )
    };
    out.one(&verification, &id, vec![("verification", shown)])
}

//! `canopy fn init` (a function, a template from `examples/` and `.canopy.toml`) and
//! `canopy fn deploy` (pack the folder, upload it with progress, print the build).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use canopy_shared::api::build::BuildView;
use canopy_shared::api::function::{CreateFunction, FunctionType};
use canopy_shared::api::Created;
use canopy_shared::Lang;
use reqwest::Method;

use crate::client::{decode, Api};
use crate::error::{CliError, CliResult};
use crate::ids::parse_id;
use crate::output::{or_dash, Out};
use crate::pack::pack;
use crate::project::{self, Project, PROJECT_FILE};
use crate::session::{self, Target};

/// Bytes per upload chunk, and so per progress update.
const CHUNK: usize = 64 * 1024;
/// How long `deploy` waits for a pending build: GO and RS builds are compiled once by a node of
/// the account (seconds), but none may be connected, and their tasks run meanwhile anyway.
const BUILD_WAIT: Duration = Duration::from_secs(30);

/// `--lang`: the lowercase codes the API shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LangArg {
    Go,
    Py,
    Js,
    Cs,
    Rb,
    Rs,
}

impl From<LangArg> for Lang {
    fn from(lang: LangArg) -> Lang {
        match lang {
            LangArg::Go => Lang::Go,
            LangArg::Py => Lang::Py,
            LangArg::Js => Lang::Js,
            LangArg::Cs => Lang::Cs,
            LangArg::Rb => Lang::Rb,
            LangArg::Rs => Lang::Rs,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The function's language.
    #[arg(long, value_enum)]
    pub lang: LangArg,
    /// The function's name (letters and digits) [default: the folder's name].
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// Overwrite an existing handler or .canopy.toml.
    #[arg(long)]
    pub force: bool,
    /// The folder [default: the current one].
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

pub async fn init(target: &Target, out: Out, args: InitArgs) -> CliResult<()> {
    if args.dir.join(PROJECT_FILE).exists() && !args.force {
        return Err(CliError::usage(
            "PROJECT_EXISTS",
            format!(
                "{} already has a {PROJECT_FILE}; use --force to start over",
                args.dir.display()
            ),
        ));
    }
    let lang = Lang::from(args.lang);
    let template = project::template(lang);
    if !args.force {
        if let Some((name, _)) = template
            .files
            .iter()
            .find(|(name, _)| args.dir.join(name).exists())
        {
            return Err(CliError::usage(
                "FILE_EXISTS",
                format!(
                    "{} exists; use --force to overwrite it",
                    args.dir.join(name).display()
                ),
            ));
        }
    }
    let api = session::connect(target).await?;
    let name = args
        .name
        .unwrap_or_else(|| project::name_from_dir(&args.dir));
    let request = CreateFunction {
        name: name.clone(),
        description: args.description,
        tag: None,
        lang,
        kind: FunctionType::Docker,
        image: None,
    };
    let created: Created = api.post("/v1/function", &request).await?;
    project::write_template(&args.dir, &template, args.force)?;
    let project = Project {
        id: created.id.clone(),
        name,
        lang: lang.code().to_owned(),
        server: api.base().to_owned(),
    };
    project.save(&args.dir)?;
    out.one(
        &project,
        &project.id,
        vec![
            (
                "Created function",
                format!("{} ({})", project.name, project.id),
            ),
            ("in", args.dir.display().to_string()),
            (
                "next",
                format!("cd {} && canopy fn deploy", args.dir.display()),
            ),
        ],
    )
}

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The function's folder [default: the current one].
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The function to deploy to [default: the id in the folder's .canopy.toml].
    #[arg(long, value_parser = parse_id)]
    pub function: Option<String>,
    /// `amd64` (default) or `arm64`.
    #[arg(long)]
    pub arch: Option<String>,
}

pub async fn deploy(target: &Target, out: Out, args: DeployArgs) -> CliResult<()> {
    let function = match args.function {
        Some(id) => id,
        None => Project::load(&args.dir)?
            .map(|project| project.id)
            .ok_or_else(|| {
                CliError::usage(
                    "NO_FUNCTION",
                    format!(
                        "{} has no {PROJECT_FILE}: run `canopy fn init` or pass --function",
                        args.dir.display()
                    ),
                )
            })
            .and_then(|id| {
                crate::ids::parse_id(&id)
                    .map_err(|message| CliError::Config(format!("{PROJECT_FILE}: {message}")))
            })?,
    };
    let packed = pack(&args.dir)?;
    for link in &packed.skipped_links {
        eprintln!("warning: left out {link}: the API refuses links");
    }
    if packed.files.is_empty() {
        return Err(CliError::usage(
            "NOTHING_TO_DEPLOY",
            format!("{} has no files to deploy", args.dir.display()),
        ));
    }
    let api = session::connect(target).await?;
    let mut path = format!("/v1/build/{function}");
    if let Some(arch) = &args.arch {
        path.push_str(&format!("?arch={arch}"));
    }
    let created = upload(&api, &path, packed.archive, packed.files.len()).await?;
    let build = wait_for_build(&api, &created.id).await?;
    if build.status == "FAILED" {
        return Err(CliError::Unexpected(format!(
            "BUILD_FAILED: build {} failed: {}",
            build.id,
            build.log.join("\n")
        )));
    }
    if build.status == "PENDING" {
        eprintln!(
            "The build is still PENDING: a node of your account compiles it once; until then its tasks compile at cold start (GET /v1/build/{})",
            build.id
        );
    }
    out.one(
        &build,
        &build.id,
        vec![
            ("build", build.id.clone()),
            ("function", build.function_id.clone()),
            ("status", build.status.clone()),
            ("entry point", or_dash(build.entry_point.clone())),
            ("files", packed.files.len().to_string()),
            (
                "artifact",
                format!(
                    "{} bytes, sha256 {}",
                    or_dash(build.artifact_size),
                    or_dash(build.artifact_sha256.clone())
                ),
            ),
        ],
    )
}

/// Streams the archive in chunks, reporting progress on a terminal.
async fn upload(api: &Api, path: &str, archive: Vec<u8>, files: usize) -> CliResult<Created> {
    let total = archive.len();
    let progress = std::io::stderr().is_terminal();
    let chunks: Vec<Vec<u8>> = archive.chunks(CHUNK).map(<[u8]>::to_vec).collect();
    let mut sent = 0usize;
    let mut shown = None;
    let stream = futures_util::stream::iter(chunks.into_iter().map(move |chunk| {
        sent += chunk.len();
        let percent = sent * 100 / total.max(1);
        // One update per percent: enough to see it move, few enough not to flood a terminal.
        if progress && shown != Some(percent) {
            shown = Some(percent);
            eprint!(
                "\rUploading {files} files: {} / {} KiB ({percent}%)",
                sent / 1024,
                total / 1024
            );
            let _ = std::io::stderr().flush();
        }
        Ok::<_, std::io::Error>(chunk)
    }));
    let request = api
        .request(Method::POST, path)
        .header(reqwest::header::CONTENT_TYPE, "application/gzip")
        .header(reqwest::header::CONTENT_LENGTH, total)
        .body(reqwest::Body::wrap_stream(stream));
    let response = api.send(request).await;
    if progress {
        eprintln!();
    }
    eprintln!("Uploaded {files} files ({total} bytes)");
    decode(response?).await
}

/// The build, once it is no longer `PENDING`.
async fn wait_for_build(api: &Api, id: &str) -> CliResult<BuildView> {
    let started = std::time::Instant::now();
    loop {
        let build: BuildView = api.get(&format!("/v1/build/{id}")).await?;
        if build.status != "PENDING" || started.elapsed() > BUILD_WAIT {
            return Ok(build);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

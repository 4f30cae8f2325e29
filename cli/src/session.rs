//! Which server a command talks to and with which token: `CANOPY_URL`/`--url` and
//! `CANOPY_TOKEN` override the config's current context. Expired access tokens are renewed from
//! the context's API key or refresh token, and the config is saved with the new one.

use std::path::PathBuf;

use canopy_shared::api::auth::{AccessToken, ApiKeyLogin, Refresh, TokenPair};

use crate::client::Api;
use crate::config::{Config, Context};
use crate::error::{CliError, CliResult};

/// An access token is renewed this long before it expires, so it does not lapse mid-command.
const RENEW_MARGIN_S: i64 = 30;

/// Where to connect: the global `--url` (env `CANOPY_URL`) and `--context` flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Target {
    /// The server (overrides the context's).
    #[arg(long, global = true, env = "CANOPY_URL")]
    pub url: Option<String>,
    /// The context to use instead of the current one.
    #[arg(long, global = true, env = "CANOPY_CONTEXT")]
    pub context: Option<String>,
}

/// The config file and its contents, loaded once per run.
pub struct Store {
    pub path: PathBuf,
    pub config: Config,
}

impl Store {
    pub fn open() -> CliResult<Store> {
        let path = Config::default_path()?;
        let config = Config::load(&path)?;
        Ok(Store { path, config })
    }

    pub fn save(&self) -> CliResult<()> {
        self.config.save(&self.path)
    }

    /// The context `target` names (by name, else by URL, else the current one), if any.
    pub fn context_for(&self, target: &Target) -> CliResult<Option<(String, Context)>> {
        if let Some(name) = &target.context {
            return match self.config.contexts.get(name) {
                Some(context) => Ok(Some((name.clone(), context.clone()))),
                None => Err(CliError::NotLoggedIn(format!(
                    "no context named {name:?} (see `canopy context list`)"
                ))),
            };
        }
        let found = match &target.url {
            Some(url) => self.config.by_url(url),
            None => self.config.current(),
        };
        Ok(found.map(|(name, context)| (name.to_owned(), context.clone())))
    }
}

/// An authenticated client for the command's server.
pub async fn connect(target: &Target) -> CliResult<Api> {
    let mut store = Store::open()?;
    let context = store.context_for(target)?;
    let url = target
        .url
        .clone()
        .or_else(|| context.as_ref().map(|(_, context)| context.url.clone()))
        .ok_or_else(|| {
            CliError::NotLoggedIn(
                "no server chosen: run `canopy login --url URL` or set CANOPY_URL".into(),
            )
        })?;
    let api = Api::new(&url)?;
    if let Some(token) = std::env::var("CANOPY_TOKEN")
        .ok()
        .filter(|token| !token.is_empty())
    {
        return from_env_token(api, token).await;
    }
    let Some((name, mut context)) = context else {
        return Err(CliError::NotLoggedIn(format!(
            "no credentials for {url}: run `canopy login --url {url}` or set CANOPY_TOKEN"
        )));
    };
    let token = fresh_token(&api, &mut context).await?;
    if store.config.contexts.get(&name) != Some(&context) {
        store.config.contexts.insert(name, context);
        store.save()?;
    }
    Ok(api.with_token(token))
}

/// `CANOPY_TOKEN` holds an access token, or an API key (`canopy_…`) exchanged for one.
async fn from_env_token(api: Api, token: String) -> CliResult<Api> {
    if token.starts_with("canopy_") {
        let access = exchange_api_key(&api, &token).await?;
        return Ok(api.with_token(access.access_token));
    }
    Ok(api.with_token(token))
}

/// The context's access token, renewed first when it has expired or is about to.
async fn fresh_token(api: &Api, context: &mut Context) -> CliResult<String> {
    let now = unix_now();
    if let (Some(token), Some(expires_at)) = (&context.access_token, context.expires_at) {
        if expires_at > now + RENEW_MARGIN_S {
            return Ok(token.clone());
        }
    }
    if let Some(key) = context.api_key.clone() {
        let access = exchange_api_key(api, &key).await?;
        context.access_token = Some(access.access_token.clone());
        context.expires_at = Some(now + access.expires_in);
        return Ok(access.access_token);
    }
    if let Some(refresh_token) = context.refresh_token.clone() {
        let pair: TokenPair = api
            .post("/v1/auth/refresh", &Refresh { refresh_token })
            .await
            .map_err(|error| match error {
                CliError::Api(problem) if problem.status == 401 => CliError::NotLoggedIn(format!(
                    "the login to {} ended ({}): run `canopy login` again",
                    api.base(),
                    problem.code
                )),
                other => other,
            })?;
        store_pair(context, &pair);
        return Ok(pair.access_token);
    }
    Err(CliError::NotLoggedIn(format!(
        "no credentials for {}: run `canopy login`",
        api.base()
    )))
}

/// `POST /v1/auth/apiKey`.
pub async fn exchange_api_key(api: &Api, key: &str) -> CliResult<AccessToken> {
    api.post(
        "/v1/auth/apiKey",
        &ApiKeyLogin {
            key: key.to_owned(),
        },
    )
    .await
}

/// Keeps a login's tokens in its context.
pub fn store_pair(context: &mut Context, pair: &TokenPair) {
    context.access_token = Some(pair.access_token.clone());
    context.refresh_token = Some(pair.refresh_token.clone());
    context.expires_at = Some(unix_now() + pair.expires_in);
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

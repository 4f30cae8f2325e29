//! `canopy login`, `logout`, `whoami`: credentials per server, kept in the config's contexts.

use std::io::IsTerminal;

use canopy_shared::api::auth::{Login, TokenPair};
use canopy_shared::api::user::UserView;
use reqwest::Method;

use crate::client::Api;
use crate::config::{context_name, normalize_url, Context};
use crate::error::{CliError, CliResult};
use crate::output::{Out, OutputArgs};
use crate::session::{self, Store, Target};

/// The server `login` uses when neither `--url`, CANOPY_URL nor a current context names one.
const DEFAULT_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// An API key (`canopy_…`; env CANOPY_API_KEY). Without one, logs in with email and password.
    #[arg(
        long,
        env = "CANOPY_API_KEY",
        hide_env_values = true,
        conflicts_with = "email"
    )]
    pub api_key: Option<String>,
    /// The account's email (password from --password-stdin, CANOPY_PASSWORD or a prompt).
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from stdin's first line.
    #[arg(long, requires = "email")]
    pub password_stdin: bool,
    /// The current TOTP code when 2FA is on (prompted for on a terminal when needed).
    #[arg(long)]
    pub twofa: Option<String>,
    /// The context's name [default: the server's host:port].
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Logs in and makes the server's context current.
pub async fn login(target: &Target, args: LoginArgs) -> CliResult<()> {
    let mut store = Store::open()?;
    let existing = store.context_for(target).ok().flatten();
    let url = target
        .url
        .clone()
        .or_else(|| existing.as_ref().map(|(_, context)| context.url.clone()))
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let url = normalize_url(&url);
    let api = Api::new(&url)?;
    let mut context = Context {
        url: url.clone(),
        ..Context::default()
    };
    if let Some(key) = args.api_key.filter(|key| !key.is_empty()) {
        let access = session::exchange_api_key(&api, &key).await?;
        context.api_key = Some(key);
        context.access_token = Some(access.access_token);
        context.expires_at = Some(session::unix_now() + access.expires_in);
    } else {
        let email = match args.email {
            Some(email) => email,
            None => prompt("Email: ")?,
        };
        let password = read_password(args.password_stdin)?;
        let pair = password_login(&api, &email, password, args.twofa).await?;
        session::store_pair(&mut context, &pair);
    }
    let token = context.access_token.clone().unwrap_or_default();
    let user: UserView = api.clone().with_token(token).get("/v1/user").await?;
    context.email = Some(user.email.clone());
    let name = args
        .name
        .or_else(|| target.context.clone())
        .or_else(|| store.config.by_url(&url).map(|(name, _)| name.to_owned()))
        .unwrap_or_else(|| context_name(&url));
    store.config.contexts.insert(name.clone(), context);
    store.config.current = Some(name.clone());
    store.save()?;
    Out::new(&args.out).one(
        &user,
        &user.id,
        vec![
            ("Logged in to", url),
            ("as", user.email.clone()),
            ("context", name),
        ],
    )
}

/// `POST /v1/auth/login`, asking for the 2FA code on a terminal when the account needs one.
async fn password_login(
    api: &Api,
    email: &str,
    password: String,
    twofa: Option<String>,
) -> CliResult<TokenPair> {
    let body = Login {
        email: email.to_owned(),
        password: password.clone(),
        twofa,
    };
    match api.post("/v1/auth/login", &body).await {
        Err(CliError::Api(problem))
            if problem.code == "TWOFA_REQUIRED"
                && body.twofa.is_none()
                && std::io::stdin().is_terminal() =>
        {
            let code = prompt("2FA code: ")?;
            let body = Login {
                twofa: Some(code),
                ..body
            };
            api.post("/v1/auth/login", &body).await
        }
        other => other,
    }
}

fn read_password(from_stdin: bool) -> CliResult<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(CliError::io("reading the password from stdin"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if let Ok(password) = std::env::var("CANOPY_PASSWORD") {
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "PASSWORD_REQUIRED",
            "no terminal to ask for the password: use --password-stdin or CANOPY_PASSWORD",
        ));
    }
    rpassword::prompt_password("Password: ").map_err(CliError::io("reading the password"))
}

fn prompt(question: &str) -> CliResult<String> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "INPUT_REQUIRED",
            format!(
                "no terminal to ask `{}`: pass it as a flag",
                question.trim_end_matches(": ")
            ),
        ));
    }
    eprint!("{question}");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(CliError::io("reading the terminal"))?;
    Ok(line.trim().to_owned())
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Ends the login on the server (a password login's refresh tokens stop working) and forgets
/// the context's credentials.
pub async fn logout(target: &Target, args: LogoutArgs) -> CliResult<()> {
    let mut store = Store::open()?;
    let Some((name, context)) = store.context_for(target)? else {
        return Err(CliError::NotLoggedIn("no context to log out of".into()));
    };
    if context.refresh_token.is_some() {
        // A server that is gone or a login that already ended must not keep the secrets here.
        if let Ok(api) = session::connect(target).await {
            let _ = api.call::<()>(Method::POST, "/v1/auth/logout", None).await;
        }
    }
    store.config.contexts.remove(&name);
    if store.config.current.as_deref() == Some(name.as_str()) {
        store.config.current = None;
    }
    store.save()?;
    Out::new(&args.out).done(
        &name,
        "logged_out",
        &format!("Logged out of {} ({name})", context.url),
    )
}

#[derive(Debug, clap::Args)]
pub struct WhoamiArgs {
    #[command(flatten)]
    pub out: OutputArgs,
}

/// The account behind the credentials in use.
pub async fn whoami(target: &Target, args: WhoamiArgs) -> CliResult<()> {
    let api = session::connect(target).await?;
    let user: UserView = api.get("/v1/user").await?;
    Out::new(&args.out).one(
        &user,
        &user.id,
        vec![
            ("email", user.email.clone()),
            ("name", format!("{} {}", user.name, user.surname)),
            ("id", user.id.clone()),
            ("role", user.role.clone()),
            ("2fa", crate::output::yes_no(user.twofa)),
            ("api keys", user.api_keys.len().to_string()),
            ("server", api.base().to_owned()),
        ],
    )
}

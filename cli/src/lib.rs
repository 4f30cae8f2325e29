//! `canopy`, the command line for Canopy's API: log in per server, create and deploy functions
//! from a folder, run tasks and wait for their responses, manage nodes, keys and tags. Request
//! and response types come from `canopy_shared::api`, the same ones the dispatcher serves.

pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod ids;
pub mod ignore;
pub mod output;
pub mod pack;
pub mod project;
pub mod session;

use clap::{CommandFactory, Parser, Subcommand};

use commands::{
    auth, context, endpoints, fns, invoke, keys, nodes, schedules, tags, tasks, triggers,
};
use error::CliResult;
use session::Target;

#[derive(Debug, Parser)]
#[command(
    name = "canopy",
    version,
    about = "Canopy from the command line: functions, deploys, tasks, nodes and keys",
    after_help = "Exit status: 0 success, 1 the API or the network refused, 2 bad usage, 3 a task did not succeed."
)]
pub struct Cli {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Logs in to a server with an API key, or email + password (+ 2FA code).
    Login(auth::LoginArgs),
    /// Ends the login and forgets the context's credentials.
    Logout(auth::LogoutArgs),
    /// The account in use.
    Whoami(auth::WhoamiArgs),
    /// Servers logged in to.
    Context(context::ContextArgs),
    /// Functions: init, deploy, list, get, edit, rm, restore, pause, capabilities, builds.
    Fn(fns::FnArgs),
    /// Runs a task and prints the function's response.
    Invoke(invoke::InvokeArgs),
    /// Tasks: get, wait, result, cancel, list.
    Task(tasks::TaskArgs),
    /// Volunteer nodes: list, disable, restore.
    Node(nodes::NodeArgs),
    /// API keys: create, list, rotate, revoke.
    Key(keys::KeyArgs),
    /// Tags: create, list, edit, rm.
    Tag(tags::TagArgs),
    /// Public endpoints: create, list, get, rm, metrics.
    Endpoint(endpoints::EndpointArgs),
    /// Triggers that chain functions: create, list, get, rm.
    Trigger(triggers::TriggerArgs),
    /// Cron schedules: create, list, get, rm, pause, resume, try.
    Schedule(schedules::ScheduleArgs),
    /// Prints a shell completion script (e.g. `canopy completions bash > /etc/bash_completion.d/canopy`).
    Completions { shell: clap_complete::Shell },
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> CliResult<()> {
    let target = cli.target;
    match cli.command {
        Command::Login(args) => auth::login(&target, args).await,
        Command::Logout(args) => auth::logout(&target, args).await,
        Command::Whoami(args) => auth::whoami(&target, args).await,
        Command::Context(args) => context::run(args),
        Command::Fn(args) => fns::run(&target, args).await,
        Command::Invoke(args) => invoke::run(&target, args).await,
        Command::Task(args) => tasks::run(&target, args).await,
        Command::Node(args) => nodes::run(&target, args).await,
        Command::Key(args) => keys::run(&target, args).await,
        Command::Tag(args) => tags::run(&target, args).await,
        Command::Endpoint(args) => endpoints::run(&target, args).await,
        Command::Trigger(args) => triggers::run(&target, args).await,
        Command::Schedule(args) => schedules::run(&target, args).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "canopy", &mut std::io::stdout());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn invoke_takes_repeated_queries_a_body_and_async() {
        let cli = Cli::try_parse_from([
            "canopy", "invoke", "fid", "-q", "name=Ada", "-q", "x=1", "-d", "@-", "--async",
        ])
        .expect("parses");
        let Command::Invoke(args) = cli.command else {
            panic!("not invoke");
        };
        assert_eq!(args.function.as_deref(), Some("fid"));
        assert_eq!(
            args.query,
            vec![("name".into(), "Ada".into()), ("x".into(), "1".into())]
        );
        assert_eq!(args.data.as_deref(), Some("@-"));
        assert!(args.detach);
    }

    #[test]
    fn a_malformed_query_is_a_usage_error_naming_the_code() {
        let error =
            Cli::try_parse_from(["canopy", "invoke", "fid", "-q", "novalue"]).expect_err("refused");
        assert_eq!(error.exit_code(), error::EXIT_USAGE);
        assert!(error.to_string().contains("INVALID_QUERY"), "{error}");
    }

    #[test]
    fn output_flags_work_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["canopy", "fn", "list", "-o", "json", "-q"]).expect("parses");
        let Command::Fn(args) = cli.command else {
            panic!("not fn");
        };
        assert_eq!(args.out.output, Some(output::Format::Json));
        assert!(args.out.quiet);
    }

    #[test]
    fn init_needs_a_known_language() {
        assert!(Cli::try_parse_from(["canopy", "fn", "init", "--lang", "py"]).is_ok());
        assert!(Cli::try_parse_from(["canopy", "fn", "init", "--lang", "cobol"]).is_err());
    }
}

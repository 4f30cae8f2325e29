//! `canopy`: parses the command line, runs it, prints an error as `error: CODE: detail` on
//! stderr and exits with its status (see `canopy --help`).

use clap::Parser;

fn main() {
    let cli = canopy_cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: IO_ERROR: cannot start the runtime: {error}");
            std::process::exit(1);
        }
    };
    if let Err(error) = runtime.block_on(canopy_cli::run(cli)) {
        eprintln!("{}", error.render());
        std::process::exit(error.exit_code());
    }
}

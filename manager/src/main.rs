//! `rustydb`: the one RustyDB command.
//!
//! Subcommands:
//! - `rustydb node`: run one storage node (`--config node.toml`, with
//!   `--data-dir` and `--listen` overriding the file);
//! - `rustydb manager --config manager.toml`: one manager member;
//! - `rustydb proxy`: the pgwire proxy (`--backends` static, `--manager`
//!   dynamic, or `--config proxy.toml`);
//! - `rustydb wan-relay`: a WAN-link simulator between two sites;
//! - `rustydb up`: a local playground: `--nodes 1` is one node with embedded
//!   defaults and data under `./.rustydb/node1`; more nodes (default 3) run as
//!   child processes with manager members when the build has them
//!   (see `playground.rs`). Prints the `psql` line to connect.
//!
//! Both run until Ctrl-C or SIGTERM, then shut the node down in order
//! (connections closed, sessions rolled back, storage flushed and closed).

mod cli;
mod logging;
mod playground;
mod run;
mod tls;

use std::process::ExitCode;

use clap::Parser;

// Sessions allocate many small, short-lived values per statement; mimalloc
// handles that pattern markedly better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let cli::Command::Proxy(args) = cli.command {
        // The proxy sizes its own runtime from its configuration.
        return exit_code(run::proxy(args));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rustydb: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            cli::Command::Node(args) => run::node(*args).await,
            cli::Command::Up(args) => run::up(args).await,
            cli::Command::Manager(args) => run::manager(args).await,
            cli::Command::Proxy(_) => Ok(()),
            cli::Command::WanRelay(args) => run::wan_relay(args).await,
            cli::Command::Witness(args) => {
                logging::init("info");
                rustydb_manager::witness::run(args.listen, &args.data_dir, &args.site).await
            }
        }
    });
    exit_code(result)
}

fn exit_code(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rustydb: {message}");
            ExitCode::FAILURE
        }
    }
}

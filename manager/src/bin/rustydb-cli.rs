//! `rustydb-cli`: operate a RustyDB cluster through the manager's HTTP API.
//! See `rustydb_manager::cli_client` for the commands and exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = rustydb_manager::cli_client::CliArgs::parse();
    rustydb_manager::cli_client::main_with(args)
}

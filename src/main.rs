//! `modelseal`: sign ML models and verify them before they are served.
//!
//! This binary is a thin shell: it parses arguments, reads files, hashes bytes and prints
//! results. Every decision about trust is made by `modelseal-kernel`.

mod aws;
mod cli;
mod commands;
mod failure;
mod files;
mod hashing;
mod keyfile;
mod progress;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // clap prints help and version on stdout with exit 0, and usage errors with exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                failure::EXIT_CANNOT_CHECK
            } else {
                0
            });
        }
    };
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprint!("{f}");
            ExitCode::from(f.exit_code())
        }
    }
}

//! `modelseal`: sign ML models and verify them before they are served.
//!
//! This binary is a thin shell: it parses arguments, reads files, hashes bytes and prints
//! results. Every decision about trust is made by `modelseal-kernel`.

mod aws;
mod cli;
mod commands;
mod failure;
mod files;
mod keyfile;
mod progress;
mod reference;
mod report;
mod signing;
mod trust_cache;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => {
            // clap prints help and version on stdout with exit 0, and usage errors with exit 2.
            if e.use_stderr() {
                json_usage_failure(&e.to_string());
            }
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                failure::EXIT_CANNOT_CHECK
            } else {
                0
            });
        }
    };
    let (command, json, verbose) = (args.command.name(), args.command.json(), args.verbose);
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json {
                println!("{}", report::failure(command, &f));
            }
            eprint!("{f}");
            if let Some(debug) = f
                .extra()
                .and_then(|e| e.debug.as_deref())
                .filter(|_| verbose)
            {
                for line in debug.lines() {
                    eprintln!("debug: {line}");
                }
            }
            ExitCode::from(f.exit_code())
        }
    }
}

/// `--json` holds for usage errors too: the failure object names the subcommand typed, if any.
fn json_usage_failure(clap_text: &str) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--json") {
        return;
    }
    // The first word that is not a flag, when it names a subcommand.
    let known = <cli::Cli as clap::CommandFactory>::command();
    let mut words = args.iter().filter(|a| !a.starts_with('-'));
    let command = match words
        .next()
        .and_then(|a| known.get_subcommands().find(|c| c.get_name() == a.as_str()))
    {
        None => "modelseal".to_string(),
        // `trust update`, `policy bucket`: groups report the subcommand typed, when it is one.
        Some(group) if group.has_subcommands() => match words
            .next()
            .filter(|a| group.get_subcommands().any(|c| c.get_name() == a.as_str()))
        {
            Some(sub) => format!("{} {sub}", group.get_name()),
            None => "modelseal".to_string(),
        },
        Some(c) => c.get_name().to_string(),
    };
    println!("{}", report::usage_failure(&command, clap_text));
}

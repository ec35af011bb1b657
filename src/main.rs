//! Thin entry point: parse, run, map the outcome to an exit code.

use clap::Parser;
use crosscheck::cli::{self, ExitStatus};

fn main() {
    let args = cli::Cli::parse();
    let status = match cli::run(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            ExitStatus::Error
        }
    };
    std::process::exit(status.code());
}

//! Thin entry point: parse, run, map the outcome to an exit code.

use clap::Parser;
use crosscheck::cli::{self, ExitStatus};

fn main() {
    // Rules run on rayon's pool and lower and optimise their plans there, recursively, and a
    // rule may collect a side of a join while it lowers: 2 MiB of stack (rayon's default)
    // overflowed in debug builds. The threads' count stays rayon's (RAYON_NUM_THREADS).
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .stack_size(32 << 20)
        .build_global()
    {
        eprintln!("internal error (a bug in crosscheck): cannot start the worker threads: {e}");
        std::process::exit(ExitStatus::Error.code());
    }
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

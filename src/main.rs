//! Thin entry point: parse, run, map the outcome to an exit code.

use clap::Parser;
use crosscheck::cli::{self, ExitStatus};

fn main() {
    crosscheck::tune_allocator();
    // Datasets load on rayon's global pool (typing columns and writing the cache through
    // Polars, which recurses); the rules run on their own pool (engine::rule_pool), whose
    // recursive plan lowering needs more than 2 MiB of stack in debug builds. Both keep
    // 32 MiB stacks; the threads' count stays rayon's (RAYON_NUM_THREADS).
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

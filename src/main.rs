//! Thin entry point: parse, run, map the outcome to an exit code.

use clap::Parser;
use crosscheck::cli::{self, ExitStatus};

fn main() {
    let cores = crosscheck::cores();
    if std::env::var_os("POLARS_MAX_THREADS").is_none() {
        // SAFETY: the first thing the process does, before any thread is started.
        unsafe { std::env::set_var("POLARS_MAX_THREADS", cores.to_string()) };
    }
    crosscheck::tune_allocator();
    // Datasets load on rayon's global pool (typing columns and writing the cache through
    // Polars, which recurses); the rules run on their own pool (engine::rule_pool), whose
    // recursive plan lowering needs more than 2 MiB of stack in debug builds. Both keep
    // 32 MiB stacks; the threads' count stays rayon's (RAYON_NUM_THREADS).
    let mut pool = rayon::ThreadPoolBuilder::new().stack_size(32 << 20);
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        pool = pool.num_threads(cores);
    }
    if let Err(e) = pool.build_global() {
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

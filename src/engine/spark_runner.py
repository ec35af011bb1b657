"""crosscheck's Spark runner: executes a bundle written by `crosscheck compile --target spark`.

    spark-submit --master URL runner.py manifest.json [results-folder]

Registers each input (Parquet written by crosscheck, read with the schema the manifest
declares) as a view of the dataset's name, creates the working-day calendar's views, then runs each
rule's statements in order and writes its result as Parquet under results/<rule id>/. A rule
that fails does not stop the others: results/status.json says, per rule, ok / failed / guard.
"""

import json
import os
import sys
import time

RUNNER_VERSION = 1


def reason(e):
    """Why a rule failed, in one line. Spark 4 raises Python exceptions that say it; Spark 3.5
    wraps a failure inside a job (a `raise_error`, a date outside the calendar) in Java
    exceptions whose innermost cause holds the words."""
    java = getattr(e, "java_exception", None)
    innermost = None
    while java is not None:
        message = java.getMessage()
        if message:
            innermost = str(message)
        java = java.getCause()
    text = innermost or str(e)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(e).__name__


def load_manifest(manifest_path):
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    if manifest["runner_version"] != RUNNER_VERSION:
        sys.exit(
            "runner.py is version %d but the bundle needs version %d: compile the bundle again"
            % (RUNNER_VERSION, manifest["runner_version"])
        )
    return manifest


def main():
    # `runner.py manifest.json [results]`, or `runner.py --many list.json`: several bundles (a
    # rule's fixtures, each with its own inputs) one after another in one Spark session, the
    # list naming each one's manifest and results folder.
    if sys.argv[1] == "--many":
        with open(sys.argv[2], encoding="utf-8") as f:
            runs = [(r["manifest"], r["results"]) for r in json.load(f)]
    else:
        bundle = os.path.dirname(os.path.abspath(sys.argv[1]))
        results = sys.argv[2] if len(sys.argv) > 2 else os.path.join(bundle, "results")
        runs = [(sys.argv[1], results)]
    first = load_manifest(runs[0][0])

    from pyspark.sql import SparkSession

    from pyspark import SparkConf

    # The manifest's settings are defaults: what spark-submit --conf sets wins.
    given = SparkConf()
    builder = SparkSession.builder.appName("crosscheck " + first["job"])
    for key, value in first["conf"].items():
        if not given.contains(key):
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for manifest_path, results in runs:
        run_bundle(spark, load_manifest(manifest_path), manifest_path, results)
    spark.stop()


def run_bundle(spark, manifest, manifest_path, results):
    """Runs one bundle's rules over its inputs and writes results/ and status.json."""
    bundle = os.path.dirname(os.path.abspath(manifest_path))
    os.makedirs(results, exist_ok=True)

    for inp in manifest["inputs"]:
        path = inp["path"] if os.path.isabs(inp["path"]) else os.path.join(bundle, inp["path"])
        spark.read.schema(inp["schema_ddl"]).parquet(path).createOrReplaceTempView(
            "cc_input_" + inp["dataset"]
        )
        spark.sql(
            "CREATE OR REPLACE TEMPORARY VIEW `%s` AS SELECT *, '%s' AS __dataset FROM cc_input_%s"
            % (inp["dataset"], inp["dataset"], inp["dataset"])
        )
    for stmt in manifest["setup"]:
        spark.sql(stmt)

    def run_rule(rule):
        started = time.time()
        outcome = {"status": "ok"}
        try:
            for stmt in rule["statements"]:
                if stmt["role"] == "view":
                    spark.sql(
                        "CREATE OR REPLACE TEMPORARY VIEW `%s` AS %s" % (stmt["name"], stmt["sql"])
                    )
                elif stmt["role"] == "guard":
                    rows = spark.sql(stmt["sql"]).collect()
                    if rows and rows[0]["__pairs"] > stmt["max_pairs"]:
                        row = rows[0].asDict()
                        outcome = {
                            "status": "guard",
                            "key": [row[k] for k in sorted(row) if k.startswith("__gk")],
                            "pairs": row["__pairs"],
                            "max_pairs": stmt["max_pairs"],
                        }
                        break
            if outcome["status"] == "ok":
                out = os.path.join(results, rule["id"])
                spark.table(rule["result"]).write.mode("overwrite").parquet(out)
        except Exception as e:  # one rule's failure is its outcome; the others still run
            outcome = {"status": "failed", "error": reason(e)}
        outcome["elapsed_ms"] = int((time.time() - started) * 1000)
        return rule["id"], outcome

    # Rules are independent: several at once keep the executors busy while one rule's small
    # stages wait on scheduling.
    from concurrent.futures import ThreadPoolExecutor

    workers = int(spark.conf.get("crosscheck.parallelRules", "4"))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        done = dict(pool.map(run_rule, manifest["rules"]))
    status = {
        "spark_version": spark.version,
        "runner_version": RUNNER_VERSION,
        "rules": {r["id"]: done[r["id"]] for r in manifest["rules"]},
    }

    tmp = os.path.join(results, "status.json.partial")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(status, f, ensure_ascii=False, indent=1)
    os.replace(tmp, os.path.join(results, "status.json"))


if __name__ == "__main__":
    main()

"""crosscheck's Spark runner: executes a bundle written by `crosscheck compile --target spark`.

    spark-submit --master URL runner.py manifest.json [RESULTS] [--stage URI] [--fetch DIR]
    spark-submit --master local[1] runner.py --remove URI

RESULTS is a folder (default: results/ beside the manifest) or a URI (hdfs://…, s3a://…,
file://…) on the file system Spark writes to; status.json goes there too, beside the rules'
Parquet. With --stage, a cluster that cannot read this machine's disk gets the inputs copied to
URI first (and removed after); with --fetch, the driver copies RESULTS back to the local folder
DIR and removes them from the cluster: only the leads leave it.

Registers each input (Parquet written by crosscheck, read with the schema the manifest
declares; or a dataset living on the cluster, a Hive table or Parquet/ORC by URI, read where it
lies and typed here as crosscheck types a file) as a view of the dataset's name, creates the working-day calendar's views, then runs each
rule's statements in order and writes its result as Parquet under results/<rule id>/. A rule
that fails does not stop the others: results/status.json says, per rule, ok / failed / guard.
"""

import datetime
import json
import math
import os
import re
import sys
import time
import unicodedata

RUNNER_VERSION = 3


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
    lines = [l for l in text.strip().splitlines() if l.strip()]
    # A Python worker's failure: the exception is the traceback's last line.
    if any(l.startswith("Traceback (most recent call last)") for l in lines):
        return lines[-1].strip()
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


def is_uri(p):
    """A URI with a scheme (`hdfs://…`, `file:/…`), not a path; one letter is a drive. As
    spark.rs's `uri_scheme`: ASCII letters, digits and `+.-` only."""
    head, sep, _ = p.partition(":")
    return (
        bool(sep)
        and len(head) > 1
        and head.isascii()
        and head[0].isalpha()
        and all(c.isalnum() or c in "+.-" for c in head)
    )


class Store:
    """The file system a URI names, through Hadoop's FileSystem API (as Spark reaches it);
    plain paths through Python's own files on this machine."""

    def __init__(self, spark):
        self.spark = spark
        self.jvm = spark._jvm
        self.conf = spark._jsc.hadoopConfiguration()

    def _fs(self, uri):
        p = self.jvm.org.apache.hadoop.fs.Path(uri)
        return p.getFileSystem(self.conf), p

    def write_text(self, folder, name, text):
        """`name` in `folder`, written whole under a temporary name and renamed, owner-only."""
        if not is_uri(folder):
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, name + ".partial")
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, os.path.join(folder, name))
            return
        fs, tmp = self._fs(folder.rstrip("/") + "/" + name + ".partial")
        final = self.jvm.org.apache.hadoop.fs.Path(folder.rstrip("/") + "/" + name)
        out = fs.create(tmp, True)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()
        fs.setPermission(tmp, self.jvm.org.apache.hadoop.fs.permission.FsPermission.valueOf("-rw-------"))
        fs.delete(final, False)
        if not fs.rename(tmp, final):
            raise OSError("cannot rename %s to %s" % (tmp, final))

    def put(self, local, uri):
        fs, p = self._fs(uri)
        fs.copyFromLocalFile(False, True, self.jvm.org.apache.hadoop.fs.Path("file://" + os.path.abspath(local)), p)

    def get(self, uri, local):
        fs, p = self._fs(uri)
        fs.copyToLocalFile(False, p, self.jvm.org.apache.hadoop.fs.Path("file://" + os.path.abspath(local)), True)

    def remove(self, uri):
        if is_uri(uri):
            fs, p = self._fs(uri)
            fs.delete(p, True)


def main():
    # `runner.py manifest.json [results] [--stage URI] [--fetch DIR]`, or `runner.py --many
    # list.json`: several bundles (a rule's fixtures, each with its own inputs) one after
    # another in one Spark session, the list naming each one's manifest and results folder.
    stage = fetch = None
    if sys.argv[1] == "--remove":
        # `runner.py --remove URI`: what a run interrupted on the cluster left there (the staged
        # inputs and results), removed through the cluster's file system.
        if len(sys.argv) != 3 or not is_uri(sys.argv[2]):
            sys.exit("--remove takes one URI on the cluster's file system (hdfs://…, file://…)")
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.appName("crosscheck cleanup").getOrCreate()
        Store(spark).remove(sys.argv[2])
        print("crosscheck: removed %s" % sys.argv[2], flush=True)
        spark.stop()
        return
    if sys.argv[1] == "--many":
        with open(sys.argv[2], encoding="utf-8") as f:
            runs = [(r["manifest"], r["results"]) for r in json.load(f)]
    else:
        args = sys.argv[1:]
        for flag in ("--stage", "--fetch"):
            if flag in args:
                i = args.index(flag)
                if i + 1 >= len(args):
                    sys.exit("%s needs a value" % flag)
                value = args[i + 1]
                del args[i : i + 2]
                if flag == "--stage":
                    stage = value
                else:
                    fetch = value
        bundle = os.path.dirname(os.path.abspath(args[0]))
        results = args[1] if len(args) > 1 else os.path.join(bundle, "results")
        runs = [(args[0], results)]
    if fetch and not is_uri(runs[0][1]):
        sys.exit("--fetch copies results from a URI: give RESULTS as one (hdfs://…, file://…)")
    # A plain path would be the cluster's default file system to Hadoop: never removed after.
    if stage and not is_uri(stage):
        sys.exit("--stage takes a URI on the cluster's file system (hdfs://…, file://…)")
    first = load_manifest(runs[0][0])

    from pyspark.sql import SparkSession

    from pyspark import SparkConf

    # The manifest's settings are defaults: what spark-submit --conf sets wins.
    given = SparkConf()
    builder = SparkSession.builder.appName("crosscheck " + first["job"])
    for key, value in first["conf"].items():
        if not given.contains(key):
            builder = builder.config(key, value)
    # A table named by the catalog is the Hive metastore's.
    if any("table" in i.get("cluster", {}) for r in runs for i in load_manifest(r[0])["inputs"]):
        builder = builder.enableHiveSupport()
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    store = Store(spark)
    try:
        for manifest_path, results in runs:
            run_bundle(spark, store, load_manifest(manifest_path), manifest_path, results, stage)
        if fetch:
            # The leads come back to this machine; the cluster keeps no copy.
            store.get(runs[0][1], fetch)
    finally:
        # Copies of personal data on the cluster, whatever happened.
        if stage:
            store.remove(stage)
        if fetch:
            store.remove(runs[0][1])
    spark.stop()


def run_bundle(spark, store, manifest, manifest_path, results, stage=None):
    """Runs one bundle's rules over its inputs and writes the results and status.json."""
    bundle = os.path.dirname(os.path.abspath(manifest_path))
    if not is_uri(results):
        os.makedirs(results, exist_ok=True)

    inputs, unloaded = {}, {}
    for inp in manifest["inputs"]:
        if "cluster" in inp:
            # Read and typed on the cluster; a dataset that cannot be fails its rules only.
            try:
                inputs[inp["dataset"]] = load_cluster_input(spark, inp)
            except Exception as e:
                unloaded[inp["dataset"]] = reason(e)
                inputs[inp["dataset"]] = {"error": unloaded[inp["dataset"]]}
                continue
            spark.sql(
                "CREATE OR REPLACE TEMPORARY VIEW `%s` AS SELECT *, '%s' AS __dataset FROM cc_input_%s"
                % (inp["dataset"], inp["dataset"], inp["dataset"])
            )
            continue
        path = inp["path"]
        if not is_uri(path) and not os.path.isabs(path):
            path = os.path.join(bundle, path)
        if stage and not is_uri(path):
            # A cluster reads the inputs from its own file system, not this machine's disk.
            staged = stage.rstrip("/") + "/" + inp["dataset"] + ".parquet"
            store.put(path, staged)
            print("crosscheck: input %s staged at %s" % (inp["dataset"], staged), flush=True)
            path = staged
        spark.read.schema(inp["schema_ddl"]).parquet(path).createOrReplaceTempView(
            "cc_input_" + inp["dataset"]
        )
        spark.sql(
            "CREATE OR REPLACE TEMPORARY VIEW `%s` AS SELECT *, '%s' AS __dataset FROM cc_input_%s"
            % (inp["dataset"], inp["dataset"], inp["dataset"])
        )
    for stmt in manifest["setup"]:
        spark.sql(stmt)
    # The tables of Chinese names, for `name_fold` / `pinyin` and the linkage's comparisons.
    tables_b = None
    if manifest.get("names"):
        with open(os.path.join(bundle, manifest["names"]), encoding="utf-8") as f:
            tables_b = spark.sparkContext.broadcast(json.load(f))
        register_name_functions(spark, tables_b)

    def run_rule(rule):
        started = time.time()
        outcome = {"status": "ok"}
        missing = [d for d in rule.get("datasets", []) if d in unloaded]
        if missing:
            why = "dataset `%s` could not be loaded: %s" % (missing[0], unloaded[missing[0]])
            return rule["id"], {"status": "failed", "error": why, "elapsed_ms": 0}
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
                elif stmt["role"] == "link":
                    out, estimated = run_link(spark, stmt["link"], tables_b)
                    out.createOrReplaceTempView(stmt["name"])
                    outcome["link"] = estimated
            if outcome["status"] == "ok":
                out = results.rstrip("/") + "/" + rule["id"]
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
        # What became of each dataset read on the cluster: counts and a sample of rejects.
        "inputs": inputs,
    }

    # Beside the results, on the file system they went to.
    store.write_text(results, "status.json", json.dumps(status, ensure_ascii=False, indent=1))


def register_name_functions(spark, tables_b):
    """`cc_name_fold(x)` and `cc_pinyin(x)`: names.rs's `fold` and `pinyin` as SQL functions."""
    from pyspark.sql import types as T

    held = {}

    def names():
        if "names" not in held:
            held["names"] = Names(tables_b.value)
        return held["names"]

    def name_fold(v):
        return None if v is None else names().fold(v)

    def pinyin(v):
        return None if v is None else names().pinyin(names().fold(v))

    spark.udf.register("cc_name_fold", name_fold, T.StringType())
    spark.udf.register("cc_pinyin", pinyin, T.StringType())


# ---------------------------------------------------------------------------------------------
# Record linkage (the `link` kind): a port of crosscheck's src/plan/link (compare.rs,
# similar.rs, estimate.rs, exec.rs) with the same arithmetic in the same order, so that both
# engines give the same leads to the last digit shown. tests/spark.rs pins this port to the
# Rust code: levels of hostile and variant pairs, name folding and pinyin, EM.

# Rust's char::is_whitespace (Unicode White_Space), what Rust's `trim` strips; Python's
# `strip()` would also strip U+001C..U+001F.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000"
)
MAX_COMPARED = 256
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
U_PRIOR_PAIRS = 100.0
M_PRIOR_PAIRS = 10.0
MISSING = "缺失 / missing"
MASK64 = (1 << 64) - 1


class LinkError(Exception):
    """A link rule that cannot run as written (its message is the rule's outcome)."""


def is_han(c):
    o = ord(c)
    return (
        0x3400 <= o <= 0x4DBF or 0x4E00 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF
        or 0x20000 <= o <= 0x2FA1F
    )


class Names:
    """names.rs over the tables crosscheck wrote into the bundle (names.json)."""

    def __init__(self, tables):
        import bisect

        self._bisect = bisect.bisect_right
        self.fold_table = tables["fold"]
        self.alnum_lo = [r[0] for r in tables["alnum"]]
        self.alnum_hi = [r[1] for r in tables["alnum"]]
        self.compound = tables["compound_surnames"]
        self.readings_table = tables["readings"]

    def is_alnum(self, c):
        """Rust's char::is_alphanumeric."""
        o = ord(c)
        i = self._bisect(self.alnum_lo, o) - 1
        return i >= 0 and o <= self.alnum_hi[i]

    def fold(self, s):
        import unicodedata

        t = self.fold_table
        return "".join(
            t.get(c, c).lower()
            for c in unicodedata.normalize("NFKC", s)
            if self.is_alnum(c) or is_han(c)
        )

    def surname_len(self, folded):
        if not folded or not is_han(folded[0]):
            return len(folded)
        for s in self.compound:
            if folded.startswith(s) and len(folded) > 2:
                return len(s)
        return 1

    def readings(self, folded):
        return [self.readings_table.get(c, []) for c in folded]

    def pinyin(self, folded):
        return " ".join(
            r[0] if r else c for c, r in zip(folded, self.readings(folded))
        )


def rust_round(x):
    """f64::round: half away from zero."""
    if x != x or x in (float("inf"), float("-inf")):
        return x
    a = abs(x)
    r = math.floor(a)
    if a - r >= 0.5:
        r += 1
    return math.copysign(float(r), x)


def shown(v, places):
    p = 10.0 ** places
    return rust_round(v * p) / p


# ---- Datasets that live on the cluster -------------------------------------------------------
# A catalog entry may name a Hive table or Parquet/ORC by URI. Spark reads it where it lies and
# types every cell here, as crosscheck types a file locally: the functions below are
# src/ingest/normalize.rs, id_card.rs and typing.rs cell for cell (same values, same reasons),
# pinned by tests/spark.rs's differential test. Only counts and a sample of rejected rows
# leave the cluster.

# char::is_whitespace (Unicode White_Space), what Rust's trim removes.
RUST_WS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# nfkc_trim also trims a BOM and a zero-width space.
TRIMMED = RUST_WS + "\ufeff\u200b"
DIGITS = "0123456789"
EPOCH = datetime.date(1970, 1, 1)
EPOCH_DT = datetime.datetime(1970, 1, 1)


class Bad(Exception):
    """A cell that cannot be loaded, with the words a local run gives."""


def all_in(s, chars):
    return all(c in chars for c in s)


def rust_float(v):
    """f64's Display (`{}`): the shortest text that reads back, never an exponent."""
    from decimal import Decimal

    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    t = format(Decimal(repr(v)), "f")
    return t[:-2] if t.endswith(".0") else t


def rust_exp(v):
    """f64's LowerExp (`{:e}`): shortest digits, `e` and the exponent (3.2e17, 5e-1)."""
    from decimal import Decimal

    if v != v or v in (float("inf"), float("-inf")):
        return rust_float(v)
    sign, digits, exp = Decimal(repr(v)).as_tuple()
    e = exp + len(digits) - 1
    ds = "".join(map(str, digits)).rstrip("0") or "0"
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return ("-" if sign else "") + mant + "e" + str(e)


def format_number(v):
    """normalize.rs's format_number: integers without `.0`."""
    if v == v and v not in (float("inf"), float("-inf")) and v.is_integer() and abs(v) < 1e15:
        return "%.0f" % v
    return rust_float(v)


def chrono_time(t):
    """NaiveTime's Display: HH:MM:SS and a fraction when there is one."""
    s = "%02d:%02d:%02d" % (t.hour, t.minute, t.second)
    if t.microsecond:
        s += ".%03d" % (t.microsecond // 1000) if t.microsecond % 1000 == 0 else ".%06d" % t.microsecond
    return s


def ymd_text(d):
    return "%04d-%02d-%02d" % (d.year, d.month, d.day)


def to_cell(v):
    """A value as Spark gives it, as parquet.rs's `any_to_cell` sees the same Parquet value:
    None (empty), str, bool, float, or datetime (dates at midnight). Integers stay exact, as
    text (an ID in a bigint column has lost nothing); so do decimals."""
    if v is None or isinstance(v, (str, bool, float)):
        return None if v == "" else v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, datetime.datetime):
        return v.replace(tzinfo=None)
    if isinstance(v, datetime.date):
        return datetime.datetime(v.year, v.month, v.day)
    return format(v, "f")  # Decimal


# parquet.rs: a row with a NUL byte in a text cell is rejected whole, its cells escaped.
NUL_REASON = "字段含空字符 / a field holds a NUL byte (shown as \\u{0})"


def escaped(field):
    """delimited.rs's escaped_field for a cell read from Parquet."""
    out = []
    for c in field:
        if c == "\ufdd0":
            continue
        if c not in "\t\n\r" and unicodedata.category(c) == "Cc":
            out.append("\\u{%x}" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def display(c):
    """CellRef::display: the cell as a person sees it."""
    if c is None:
        return ""
    if isinstance(c, str):
        return c
    if isinstance(c, bool):
        return "true" if c else "false"
    if isinstance(c, float):
        return format_number(c)
    t = c.time()
    date = c.date_text() if isinstance(c, FarDate) else ymd_text(c)
    if t == datetime.time(0):
        return date
    return date + " %02d:%02d:%02d" % (t.hour, t.minute, t.second)


def chrono_datetime(c):
    """NaiveDateTime's Display."""
    return (c.date_text() if isinstance(c, FarDate) else ymd_text(c)) + " " + chrono_time(c.time())


def out_of_range(c):
    return Bad("日期超出范围 / date out of range: year %d (1 to 9999)" % c.y)


def is_empty(c):
    if c is None:
        return True
    return isinstance(c, str) and c.strip(RUST_WS) == ""


def nfkc_trim(s):
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
    return s.strip(TRIMMED)


def normalize_text(c):
    s = nfkc_trim(display(c))
    return s or None


def normalize_plate(s):
    s = unicodedata.normalize("NFKC", s)
    return "".join(c for c in s if c not in RUST_WS and c not in "·.-").upper()


def ymd(y, m, d):
    """NaiveDate::from_ymd_opt for the years a register can mean (1 to 9999)."""
    try:
        return datetime.date(y, m, d)
    except (ValueError, OverflowError):
        return None


def excel_serial_to_date(serial):
    if not (1.0 <= serial < 2958466.0):
        return None
    return datetime.date(1899, 12, 30) + datetime.timedelta(days=int(serial))


def parse_date_text(t):
    def err():
        return Bad(
            "'%s' is not a date (expected e.g. 2024-03-01, 2024/3/1, 20240301, 2024年3月1日)" % t
        )

    b = t.encode("utf-8")
    if len(b) == 10 and b[4:5] == b"-" and b[7:8] == b"-":
        parts = (b[0:4], b[5:7], b[8:10])
        if all(p.isdigit() for p in parts):
            d = ymd(*(int(p) for p in parts))
            if d is not None:
                return d
    if len(b) in (8, 6) and b.isdigit():
        d = ymd(int(b[0:4]), int(b[4:6]), int(b[6:8]) if len(b) == 8 else 1)
        if d is None:
            raise err()
        return d
    date_part = re.split("[ T]", t, maxsplit=1)[0]
    unified = (
        date_part.replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-").replace(".", "-")
    ).rstrip("-")
    if not unified.isascii():
        raise err()
    parts = unified.split("-")

    def num(s):
        if s == "" or not all_in(s, DIGITS) or int(s) > 0xFFFFFFFF:
            raise err()
        return int(s)

    if len(parts) == 1 and len(parts[0]) == 8:
        p = parts[0]
        y, m, d = num(p[:4]), num(p[4:6]), num(p[6:])
    elif len(parts) == 1 and len(parts[0]) == 6:
        p = parts[0]
        y, m, d = num(p[:4]), num(p[4:]), 1
    elif len(parts) == 1 and 4 <= len(parts[0]) <= 5:
        # A bare serial written as text.
        d = excel_serial_to_date(float(num(parts[0])))
        if d is None:
            raise err()
        return d
    elif len(parts) == 2 and len(parts[0]) == 4:
        y, m, d = num(parts[0]), num(parts[1]), 1
    elif len(parts) == 3 and len(parts[0]) == 4:
        y, m, d = num(parts[0]), num(parts[1]), num(parts[2])
    else:
        raise err()
    out = ymd(y, m, d)
    if out is None:
        raise err()
    return out


def parse_date(c):
    if c is None:
        return None
    if isinstance(c, bool):
        raise Bad("%s is not a date" % display(c))
    if isinstance(c, datetime.datetime):
        return c.date()
    if isinstance(c, FarDate):
        raise out_of_range(c)
    if isinstance(c, float):
        v = c
        if (v == v and v.is_integer() and 190001.0 <= v <= 210012.0) or 19000101.0 <= v <= 21001231.0:
            return parse_date_text(format_number(v))
        d = excel_serial_to_date(v) if v == v else None
        if d is None:
            raise Bad("%s is not a date" % format_number(v))
        return d
    t = nfkc_trim(c)
    if not t:
        return None
    return parse_date_text(t)


TIME = re.compile(
    "^[%s]*([0-9]{1,2}):[%s]*([0-9]{1,2})(?::[%s]*([0-9]{1,2})(?:[.]([0-9]{1,9}))?)?$"
    % (RUST_WS, RUST_WS, RUST_WS)
)


def parse_hms(s):
    """normalize.rs's parse_time: chrono's %H:%M:%S (one or two digits each, a leap second
    60) and up to nine digits of fraction, else %H:%M."""
    m = TIME.match(s)
    if not m:
        return None
    h, mi, sec = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or sec > 60:
        return None
    micros = int(m.group(4).ljust(9, "0")[:6]) if m.group(4) else 0
    return datetime.timedelta(hours=h, minutes=mi, seconds=sec, microseconds=micros)


def civil(days):
    """(year, month, day) of a day count from 1970-01-01, any year (proleptic Gregorian)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


class FarDate:
    """A date-time cell outside the years 1 to 9999, which Python's datetime cannot hold but
    chrono (the local reader) can: shown as chrono shows it, refused by every date type."""

    def __init__(self, days, micros=0):
        self.y, self.m, self.d = civil(days)
        self.micros = micros

    def date_text(self):
        y = ("%04d" if 0 <= self.y <= 9999 else "%+05d") % self.y
        return "%s-%02d-%02d" % (y, self.m, self.d)

    def time(self):
        s, us = divmod(self.micros, 1000000)
        return datetime.time(s // 3600, s // 60 % 60, s % 60, us)


# chrono's NaiveDate range (-262143-01-01 to 262142-12-31), in days from 1970-01-01: past it,
# parquet.rs reads a date as text.
CHRONO_DAYS = (-96465292, 95026236)


def from_days(days):
    """A DATE column's value as parquet.rs's `any_to_cell` sees it."""
    if days is None:
        return None
    if not CHRONO_DAYS[0] <= days <= CHRONO_DAYS[1]:
        return "%d days from 1970-01-01" % days
    if -719162 <= days <= 2932896:
        return EPOCH_DT + datetime.timedelta(days=days)
    return FarDate(days)


def from_micros(us):
    """A TIMESTAMP column's value (microseconds from 1970, UTC) as a date-time cell."""
    if us is None:
        return None
    days, rest = divmod(us, 86400000000)
    if not CHRONO_DAYS[0] <= days <= CHRONO_DAYS[1]:
        return "%d us from 1970-01-01" % us
    if -719162 <= days <= 2932896:
        return EPOCH_DT + datetime.timedelta(microseconds=us)
    return FarDate(days, rest)


def parse_datetime(c):
    if isinstance(c, datetime.datetime):
        return c
    if isinstance(c, FarDate):
        raise out_of_range(c)
    if isinstance(c, float):
        d = parse_date(c)
        if d is None:
            return None
        secs = int(rust_round((c - math.trunc(c)) * 86400.0))
        return datetime.datetime(d.year, d.month, d.day) + datetime.timedelta(seconds=secs)
    if isinstance(c, str):
        t = nfkc_trim(c)
        if not t:
            return None
        d = parse_date_text(t)
        m = re.search("[ T]", t)
        tm = t[m.end():].strip(RUST_WS) if m else ""
        if tm == "":
            offset = datetime.timedelta(0)
        else:
            offset = parse_hms(tm)
            if offset is None:
                raise Bad("'%s' has a time that is not HH:MM[:SS[.fff]]" % t)
        return datetime.datetime(d.year, d.month, d.day) + offset
    d = parse_date(c)
    return None if d is None else datetime.datetime(d.year, d.month, d.day)


F64 = re.compile(r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)$", re.I)


def rust_f64(s):
    """str::parse::<f64>, or None."""
    return float(s) if F64.match(s) else None


def is_finite(v):
    return v is not None and v == v and v not in (float("inf"), float("-inf"))


def strip_money(t):
    while t.endswith("万元"):
        t = t[:-2]
    return t.rstrip("元").lstrip("¥￥")


def parse_decimal(c):
    if c is None:
        return None
    if isinstance(c, bool):
        raise Bad("%s is not a number" % display(c))
    if isinstance(c, float):
        return c
    if isinstance(c, (datetime.datetime, FarDate)):
        raise Bad("%s is not a number" % chrono_datetime(c))
    t = nfkc_trim(c)
    if not t:
        return None
    if all_in(t, "0123456789.-"):
        v = rust_f64(t)
        if is_finite(v):
            return v
    cleaned = "".join(ch for ch in strip_money(t) if ch not in ",， _")
    scale = 10000.0 if t.endswith("万元") else 1.0
    v = rust_f64(cleaned)
    if not is_finite(v):
        raise Bad("'%s' is not a number" % t)
    return v * scale


def exact_decimal(t):
    wan = t.endswith("万元")
    body = strip_money(t).strip(RUST_WS)
    if body.startswith("-"):
        sign, body = "-", body[1:]
    else:
        sign = ""
        body = body[1:] if body.startswith("+") else body
    digits = "".join(ch for ch in body if ch not in ",， _")
    whole, _, frac = digits.partition(".")
    if (whole == "" and frac == "") or not all_in(whole, DIGITS) or not all_in(frac, DIGITS):
        return None
    frac = frac.rstrip("0")
    if wan:
        padded = frac.ljust(4, "0")
        whole, frac = whole + padded[:4], padded[4:].rstrip("0")
    v = float("%s%s.%s0" % (sign, whole or "0", frac))
    return (v, len(frac)) if is_finite(v) else None


def at_scale(v, scale):
    factor = 10.0 ** scale
    r = rust_round(v * factor) / factor
    return r if abs(v - r) <= 1e-9 * max(abs(v), 1.0) else None


def places_of(v):
    t = rust_float(v)
    return len(t.split(".", 1)[1]) if "." in t else 0


def parse_decimal_at(c, scale):
    def too_many(places):
        return Bad(
            "有 %d 位小数，该列保留 %d 位 / %d decimal places, the column keeps %d: declare "
            "`scale: %d` for it in datasets.yaml" % (places, scale, places, scale, places)
        )

    def rescale(v):
        if v is None:
            return None
        r = at_scale(v, scale)
        if r is None:
            raise too_many(places_of(v))
        return r

    exact = exact_decimal(nfkc_trim(c)) if isinstance(c, str) else None
    if exact is not None:
        v, places = exact
        value = v
        if places > scale:
            value = at_scale(v, scale)
            if value is None:
                raise too_many(places)
    else:
        value = rescale(parse_decimal(c))
        if value is None:
            return None
    if abs(value * 10.0 ** scale) >= 9007199254740992.0:
        raise Bad(
            "%s is too large to hold exactly with %d decimal places" % (format_number(value), scale)
        )
    return value


def parse_int(c):
    v = parse_decimal(c)
    if v is None:
        return None
    if v == v and v not in (float("inf"), float("-inf")) and v.is_integer() and abs(v) < 9.0e15:
        return int(v)
    raise Bad("'%s' is not a whole number" % format_number(v))


def parse_bool(c):
    if isinstance(c, bool):
        return c
    if c is None:
        return None
    t = nfkc_trim(display(c)).lower()
    if t == "":
        return None
    if t in ("1", "true", "yes", "y", "是", "有"):
        return True
    if t in ("0", "false", "no", "n", "否", "无"):
        return False
    raise Bad("'%s' is not yes/no (是/否, true/false, 1/0)" % t)


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
# IdFlags: 4 + the issue's place here.
ID_ISSUES = ("missing", "length", "characters", "birth_date", "check_character", "spreadsheet_damage")


def id_check(first17):
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS)) % 11]


def clean_id(raw):
    if all_in(raw, "0123456789X"):
        return raw
    s = raw if raw.isascii() else unicodedata.normalize("NFKC", raw)
    s = "".join(c for c in s if c not in RUST_WS and c not in "\u200b\u200c\u200d\ufeff\u2060")
    return s.lstrip("'`\u2018\u2019").upper()


def id_birth(yyyymmdd):
    y = int(yyyymmdd[:4])
    return 1800 <= y <= 2100 and ymd(y, int(yyyymmdd[4:6]), int(yyyymmdd[6:8])) is not None


def validate_id(s):
    """(the valid ID, upgraded) or the issue's code."""
    if s == "":
        return "missing"
    if "E" in s and "." in s and all_in(s, "0123456789E+-."):
        return "spreadsheet_damage"
    b = s.encode("utf-8")
    if len(b) == 18:
        if not s.isascii() or not all_in(s[:17], DIGITS) or s[17] not in "0123456789X":
            return "characters"
        if not id_birth(s[6:14]):
            return "birth_date"
        if id_check(s[:17]) != s[17]:
            return "spreadsheet_damage" if s.endswith("000") else "check_character"
        return (s, False)
    if len(b) == 15:
        if not s.isascii() or not all_in(s, DIGITS):
            return "characters"
        first17 = s[:6] + "19" + s[6:15]
        if not id_birth(first17[6:14]):
            return "birth_date"
        return (first17 + id_check(first17), True)
    return "length" if all_in(s, "0123456789X") else "characters"


def normalize_id(c):
    """(value, raw, issue, kind): the `_raw` text is the cleaned text; kind as IdFlags."""
    if isinstance(c, float):
        v = c
        exact = v == v and v not in (float("inf"), float("-inf")) and v.is_integer() and abs(v) < 1e15
        cleaned, valid, issue, upgraded, was_cleaned = id_text("%.0f" % v if exact else rust_exp(v))
        if valid is None or abs(v) >= 1e15:
            valid, upgraded, issue = None, False, "spreadsheet_damage"
    else:
        cleaned, valid, issue, upgraded, was_cleaned = id_text(display(c))
    kind = int(was_cleaned) + 2 * int(upgraded) if issue is None else 4 + ID_ISSUES.index(issue)
    return valid, cleaned or None, issue, kind


def id_text(raw):
    cleaned = clean_id(raw)
    checked = validate_id(cleaned)
    if isinstance(checked, str):
        return cleaned, None, checked, False, cleaned != raw
    return cleaned, checked[0], None, checked[1], cleaned != raw


def typer(column):
    """The function typing one cell of a catalog column: its value(s) as the row carries them
    (dates as days since 1970, date-times as milliseconds), or Bad."""
    ty, scale = column["type"], column.get("scale")
    if ty in ("text", "name"):
        return lambda c: (normalize_text(c),)
    if ty == "plate":
        return lambda c: (None if normalize_text(c) is None else normalize_plate(normalize_text(c)),)
    if ty == "id_card":
        return normalize_id
    if ty in ("decimal", "money"):
        return lambda c: (parse_decimal_at(c, scale),)
    if ty == "float":
        return lambda c: (parse_decimal(c),)
    if ty == "int":
        return lambda c: (parse_int(c),)
    if ty == "bool":
        return lambda c: (parse_bool(c),)
    if ty == "date":

        def date(c):
            d = parse_date(c)
            return (None if d is None else (d - EPOCH).days,)

        return date
    if ty == "datetime":

        def stamp(c):
            d = parse_datetime(c)
            if d is None:
                return (None,)
            t = d - EPOCH_DT
            return (t.days * 86400000 + t.seconds * 1000 + t.microseconds // 1000,)

        return stamp
    raise ValueError("unknown column type " + ty)


def header_key(h):
    """typing.rs's header_key: NFKC, no BOM, no whitespace."""
    return "".join(c for c in unicodedata.normalize("NFKC", h) if c not in RUST_WS and c != "\ufeff")


# Which Spark types can hold each catalog type's cells (anything can be text).
NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")
TIMES = ("date", "timestamp", "timestamp_ntz")
READS = {
    "date": NUMERIC + TIMES,
    "datetime": NUMERIC + TIMES,
    "decimal": NUMERIC,
    "money": NUMERIC,
    "float": NUMERIC,
    "int": NUMERIC,
    "bool": NUMERIC + ("boolean",),
}


def simple_type(dt):
    name = dt.simpleString()
    return name.split("(")[0]


def load_cluster_input(spark, inp):
    """Reads a dataset where it lives, types every row as a local run would, and registers
    the rows that load as `cc_input_<dataset>`. Returns the accounting: counts, ID quality,
    and the first rejected rows (a sample, never the data)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    name, source = inp["dataset"], inp["cluster"]
    shown = inp["shown"]
    if "table" in source:
        df = spark.table(source["table"])
    else:
        df = spark.read.format(source["format"]).load(source["uri"])
    # Each catalog column's source column, matched as a file's headers are.
    keys = {}
    for c in df.columns:
        keys.setdefault(header_key(c), []).append(c)
    columns = inp["columns"]
    picked = []
    for col in columns:
        wanted = {header_key(n) for n in [col["name"]] + col["aliases"]}
        found = [c for k in sorted(wanted) for c in keys.get(k, [])]
        if len(found) > 1:
            raise ValueError(
                "%s: %d columns match column `%s`: %s; keep only one of them among its aliases"
                % (shown, len(found), col["name"], ", ".join(found))
            )
        if not found and not col["optional"]:
            raise ValueError(
                "%s has no column for `%s` (looked for: %s); its columns are: %s. Add the "
                "column's name to `aliases`, or mark it `optional: true`"
                % (shown, col["name"], ", ".join([col["name"]] + col["aliases"]), ", ".join(df.columns))
            )
        if found:
            kind = simple_type(df.schema[found[0]].dataType)
            fits = kind == "string" or kind in READS.get(col["type"], NUMERIC + TIMES + ("boolean",))
            if not fits:
                raise ValueError(
                    "%s: column %s is %s, which cannot hold a %s (%s); declare the column's "
                    "type to match the table" % (shown, found[0], kind.upper(), col["type"], col["name"])
                )
        picked.append(found[0] if found else None)
    # Every column is read: a rejected row shows all its cells, as a file's does.
    sources = list(df.columns)

    def read(c):
        e = F.col(q(c))
        kind = simple_type(df.schema[c].dataType)
        # Dates and timestamps as numbers, turned into cells by `from_days` / `from_micros`:
        # pyspark's own conversion fails on years Python cannot hold. A timestamp's wall
        # clock is the session's (UTC).
        if kind == "date":
            return F.expr("unix_date(%s)" % q(c))
        if kind in ("timestamp", "timestamp_ntz"):
            return F.expr("unix_micros(CAST(%s AS TIMESTAMP))" % q(c))
        # Small integers and floats are numbers to Polars too; int and bigint stay text.
        if kind in ("tinyint", "smallint", "float"):
            return e.cast("double")
        return e

    cells = [read(c).alias("c%d" % i) for i, c in enumerate(sources)]
    convert = [
        {"date": from_days, "timestamp": from_micros, "timestamp_ntz": from_micros}.get(
            simple_type(df.schema[c].dataType), to_cell
        )
        for c in sources
    ]
    at = {c: i for i, c in enumerate(sources)}
    places = [None if p is None else at[p] for p in picked]
    headers = [p if p is not None else col["name"] for p, col in zip(picked, columns)]
    if inp.get("row"):
        rk = header_key(inp["row"])
        found = keys.get(rk, [])
        if len(found) != 1:
            raise ValueError(
                "%s: `row: %s` names %s" % (shown, inp["row"], "no column" if not found else "several columns")
            )
        numbered = df.select(F.col(q(found[0])).cast("bigint").alias("n"), *cells).rdd.map(
            lambda r: (r[0], tuple(r[1:]))
        )
        check = numbered.map(lambda p: p[0])
        total, distinct, nulls = check.count(), check.distinct().count(), check.filter(lambda n: n is None).count()
        if nulls or distinct != total:
            raise ValueError(
                "%s: the row column %s must number every record once (%d empty, %d repeated)"
                % (shown, found[0], nulls, total - distinct)
            )
    else:
        # Rows numbered in the order of all their values: the same table gives the same numbers.
        ordered = df.select(*cells).orderBy(
            *[F.col("c%d" % i).cast("string").asc_nulls_first() for i in range(len(sources))]
        )
        numbered = ordered.rdd.zipWithIndex().map(lambda p: (p[1] + 1, tuple(p[0])))

    typers = [typer(c) for c in columns]
    required = [c["required"] for c in columns]
    names = [c["name"] for c in columns]
    ids = [i for i, c in enumerate(columns) if c["type"] == "id_card"]

    def type_row(p):
        n, got = p
        raw = [f(v) for f, v in zip(convert, got)]
        values, kinds, why = [], [], None
        if any(isinstance(v, str) and "\x00" in v for v in raw):
            width = sum(1 + 2 * (c["type"] == "id_card") for c in columns)
            content = [escaped(display(v)) for v in raw]
            return (n, NUL_REASON, (None,) * width, (4,) * len(ids), content)
        for i, f in enumerate(typers):
            c = None if places[i] is None else raw[places[i]]
            if required[i] and is_empty(c):
                why = why or "必填列为空 / required column %s (%s) is empty" % (headers[i], names[i])
                typed = (None, None, None, 0) if columns[i]["type"] == "id_card" else (None,)
            else:
                try:
                    typed = f(c)
                except Bad as e:
                    why = why or "列 %s (%s): %s" % (headers[i], names[i], e)
                    typed = (None,)
            if columns[i]["type"] == "id_card":
                kinds.append(typed[3] if len(typed) == 4 else 4)
                typed = typed[:3] if len(typed) == 4 else (None, None, None)
            values.extend(typed)
        content = [display(v) for v in raw] if why else None
        return (n, why, tuple(values), tuple(kinds), content)

    typed = numbered.map(type_row).persist(StorageLevel.MEMORY_AND_DISK)
    rows_read = typed.count()
    rejected = typed.filter(lambda r: r[1] is not None)
    rows_rejected = rejected.count()
    sample = rejected.takeOrdered(100, key=lambda r: r[0])
    loaded = typed.filter(lambda r: r[1] is None)
    quality = {}
    if ids:
        counts = loaded.flatMap(lambda r: list(enumerate(r[3]))).countByValue()
        for j, i in enumerate(ids):
            by = {k: n for (jj, k), n in counts.items() if jj == j}
            quality[names[i]] = {
                "valid": sum(by.get(k, 0) for k in range(4)),
                "cleaned": by.get(1, 0) + by.get(3, 0),
                "legacy_upgraded": by.get(2, 0) + by.get(3, 0),
                "invalid": {ID_ISSUES[k - 4]: n for k, n in sorted(by.items()) if k >= 4},
            }
    # Numbered 0, 1, … in row order over the rows that load, as a local run numbers them.
    rows = loaded.sortBy(lambda r: r[0]).zipWithIndex().map(lambda p: p[0][2] + (p[0][0], p[1]))
    fields, exprs = [], []
    schema = {s["name"]: s["type"] for s in inp["schema"]}
    for col in columns:
        n = col["name"]
        if col["type"] == "id_card":
            for suffix in ("", "_raw", "_issue"):
                fields.append(T.StructField(n + suffix, T.StringType()))
                exprs.append(F.col(q(n + suffix)))
            continue
        py = {
            "date": T.IntegerType(),
            "datetime": T.LongType(),
            "decimal": T.DoubleType(),
            "money": T.DoubleType(),
            "float": T.DoubleType(),
            "int": T.LongType(),
            "bool": T.BooleanType(),
        }.get(col["type"], T.StringType())
        fields.append(T.StructField(n, py))
        e = F.col(q(n))
        if col["type"] == "date":
            e = F.expr("date_from_unix_date(%s)" % q(n))
        elif col["type"] == "datetime":
            e = F.expr("CAST(timestamp_millis(%s) AS TIMESTAMP_NTZ)" % q(n))
        exprs.append(e.cast(schema[n]).alias(n))
    fields += [T.StructField("__row", T.LongType()), T.StructField("__rid", T.LongType())]
    frame = spark.createDataFrame(rows, T.StructType(fields)).select(
        *exprs,
        F.lit(shown).alias("__file"),
        F.lit(None).cast("string").alias("__sheet"),
        F.col("__row"),
        F.col("__rid"),
    )
    frame.createOrReplaceTempView("cc_input_" + name)
    return {
        "rows_read": rows_read,
        "rows_loaded": rows_read - rows_rejected,
        "rows_rejected": rows_rejected,
        "id_quality": quality,
        # For each cell of a rejected row (the table's columns), the catalog column it was
        # read for, if any.
        "columns": [next((col["name"] for p, col in zip(picked, columns) if p == c), None) for c in sources],
        "rejected": [{"row": r[0], "reason": r[1], "content": r[4]} for r in sample],
    }


def fmax(a, b):
    """f64::max: the other when one is NaN."""
    if a != a:
        return b
    if b != b:
        return a
    return a if a >= b else b


def ln(x):
    if x > 0:
        return math.log(x)
    return float("-inf") if x == 0 else float("nan")


def log2(x):
    if x > 0:
        return math.log2(x) if x != float("inf") else x
    return float("-inf") if x == 0 else float("nan")


def exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return float("inf")


def exp2(x):
    try:
        # math.exp2 (Python 3.11) is the C library's, as Rust's f64::exp2 is.
        return math.exp2(x) if hasattr(math, "exp2") else 2.0 ** x
    except OverflowError:
        return float("inf")


def check_character(body):
    return ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS)) % 11]


def id_form(raw):
    import unicodedata

    s = "".join(
        c.upper() for c in unicodedata.normalize("NFKC", raw) if c.isascii() and c.isalnum()
    )
    if len(s) == 15 and s.isdigit():
        body = s[:6] + "19" + s[6:]
        return body + check_character(body), False
    vouched = len(s) == 18 and s[:17].isdigit() and check_character(s[:17]) == s[17]
    return s, vouched


def date_digits(raw):
    import re

    parts = [p for p in re.split("[^0-9]", raw) if p]
    if len(parts) == 1 and len(parts[0]) == 8:
        return parts[0]
    if len(parts) >= 3 and len(parts[0]) == 4 and len(parts[1]) <= 2 and len(parts[2]) <= 2:
        return parts[0] + parts[1].rjust(2, "0") + parts[2].rjust(2, "0")
    return None


def tokens(names, raw, folded):
    if any(is_han(c) for c in folded):
        if len(folded) < 2:
            return frozenset([folded])
        return frozenset(folded[i : i + 2] for i in range(len(folded) - 1))
    words, word = [], []
    for c in raw:
        if names.is_alnum(c):
            word.append(c)
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return frozenset(w.lower() for w in words)


def prepare(names, method, raw):
    """compare::prepare: (folded, surname length, readings, tokens, chars, vouched), or None."""
    if raw is None:
        return None
    surname, readings, toks, vouched = 0, None, None, False
    if method == "chinese_name":
        folded = names.fold(raw)
        surname = names.surname_len(folded)
        readings = names.readings(folded)
    elif method == "text":
        folded = raw.strip(WHITE_SPACE).lower()
    elif method == "exact":
        folded = raw.strip(WHITE_SPACE)
    elif method == "date":
        folded = date_digits(raw)
        if folded is None:
            return None
    elif method == "id":
        folded, vouched = id_form(raw)
    elif method == "address":
        folded = names.fold(raw)
        toks = tokens(names, raw, folded)
    else:
        raise LinkError("unknown comparison `%s` (a bug in crosscheck)" % method)
    chars = folded[:MAX_COMPARED] if method in ("chinese_name", "text", "id") else ""
    if not folded:
        return None
    return (folded, surname, readings, toks, chars, vouched)


def jaro(a, b):
    la, lb = len(a), len(b)
    if la == 0 and lb == 0:
        return 1.0
    if la == 0 or lb == 0:
        return 0.0
    rng = max(max(la, lb) // 2 - 1, 0)
    af, bf = [False] * la, [False] * lb
    matches = 0
    for i, x in enumerate(a):
        for j in range(max(i - rng, 0), min(lb, i + rng + 1)):
            if not bf[j] and x == b[j]:
                af[i] = bf[j] = True
                matches += 1
                break
    if matches == 0:
        return 0.0
    t, j = 0, 0
    for i, x in enumerate(a):
        if not af[i]:
            continue
        while not bf[j]:
            j += 1
        if x != b[j]:
            t += 1
        j += 1
    m = float(matches)
    return (m / la + m / lb + (m - (t // 2)) / m) / 3.0


def jaro_winkler(a, b):
    sim = jaro(a, b)
    if sim > 0.7:
        prefix = 0
        for x, y in zip(a[:4], b):
            if x != y:
                break
            prefix += 1
        return sim + 0.1 * prefix * (1.0 - sim)
    return sim


def osa(a, b):
    lb = len(b)
    one = list(range(lb + 1))
    two = one[:]
    cur = [0] * (lb + 1)
    for i, x in enumerate(a):
        cur[0] = i + 1
        for j, y in enumerate(b):
            d = min(cur[j] + 1, one[j + 1] + 1, one[j] + (0 if x == y else 1))
            if i > 0 and j > 0 and x != y and x == b[j - 1] and y == a[i - 1]:
                d = min(d, two[j - 1] + 1)
            cur[j + 1] = d
        two, one, cur = one, cur, two
    return one[lb]


def graded(score, thresholds):
    for i, t in enumerate(thresholds):
        if score >= t:
            return len(thresholds) - i
    return 0


def sounds(x, y):
    return len(x) == len(y) and all(p and any(r in q for r in p) for p, q in zip(x, y))


def name_level(a, b):
    if not is_han(a[0][0]) or not is_han(b[0][0]):
        return 2 if jaro_winkler(a[4], b[4]) >= 0.92 else 0
    ra, rb = a[2], b[2]
    if sounds(ra, rb):
        return 3
    sa, sb = a[1], b[1]
    ca, cb = a[4], b[4]
    surname_same = ca[:sa] == cb[:sb] or sounds(ra[:sa], rb[:sb])
    ga, gb = ca[sa:], cb[sb:]
    if surname_same and ga and gb:
        if len(ga) == len(gb):
            one_off = sum(1 for x, y in zip(ga, gb) if x != y) == 1
        else:
            short, long = (ga, gb) if len(ga) < len(gb) else (gb, ga)
            one_off = len(long) == len(short) + 1 and (
                long.startswith(short) or long.endswith(short)
            )
        if one_off:
            return 2
    if ga and (ga == gb or sounds(ra[sa:], rb[sb:])):
        return 1
    return 0


def date_level(a, b):
    if a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return 3
    differing = sum(1 for x, y in zip(a, b) if x != y)
    swapped = differing == 2 and any(
        a[i] == b[i + 1] and a[i + 1] == b[i] and a[i] != a[i + 1] for i in range(7)
    )
    if differing == 1 or swapped:
        return 2
    if a[:4] == b[:4]:
        return 1
    return 0


def jaccard(a, b):
    if not a or not b:
        return 0.0
    both = len(a & b)
    return both / float(len(a) + len(b) - both)


def level(method, thresholds, top, a, b):
    """compare::level; `top` is the level of two equal values."""
    if a[0] == b[0]:
        return top
    if method == "chinese_name":
        return name_level(a, b)
    if method == "text":
        return graded(jaro_winkler(a[4], b[4]), [0.92, 0.8] if thresholds is None else thresholds)
    if method == "exact":
        return 0
    if method == "date":
        return date_level(a[0], b[0])
    if method == "id":
        if a[5] and b[5]:
            return 0
        d = osa(a[4], b[4])
        return 2 if d == 1 else 1 if d == 2 else 0
    return graded(jaccard(a[3], b[3]), [0.7, 0.4] if thresholds is None else thresholds)


def comparer(tables, fields):
    """The levels of a pair of records' compared values (-1 where either is missing)."""
    import functools

    names = Names(tables)
    methods = [f["method"] for f in fields]
    thresholds = [f["thresholds"] for f in fields]
    tops = [len(f["labels"]) - 1 for f in fields]

    @functools.lru_cache(maxsize=1 << 16)
    def prep(k, raw):
        return prepare(names, methods[k], raw)

    def levels(va, vb):
        out = []
        for k in range(len(fields)):
            x, y = prep(k, va[k]), prep(k, vb[k])
            out.append(-1 if x is None or y is None else level(methods[k], thresholds[k], tops[k], x, y))
        return out

    def folded(k, raw):
        p = prep(k, raw)
        return None if p is None else p[0]

    return levels, folded


def u_from_counts(counts, default):
    n = sum(counts)
    return [(c + U_PRIOR_PAIRS * d) / (n + U_PRIOR_PAIRS) for c, d in zip(counts, default)]


def em(patterns, u, m, fixed, m_starts, prior, population, prior_fixed):
    """estimate::em over (pattern, count) sorted by pattern; updates m, returns (prior, its)."""
    total = sum(c for _, c in patterns)
    population = fmax(population, total)
    lam = min(max(prior, 1e-12), 0.999)
    if total == 0.0:
        return lam, 0
    for it in range(1, 1001):
        num = [[0.0] * len(v) for v in m]
        matched = 0.0
        for pattern, count in patterns:
            lm, lu = ln(lam), ln(1.0 - lam)
            for k, l in enumerate(pattern):
                if l >= 0:
                    lm += ln(m[k][l])
                    lu += ln(u[k][l])
            p = 1.0 / (1.0 + exp(lu - lm))
            matched += p * count
            for k, l in enumerate(pattern):
                if l >= 0:
                    num[k][l] += p * count
        change = 0.0
        for k, row in enumerate(num):
            if fixed[k]:
                continue
            seen = sum(row)
            if seen <= 0.0:
                continue
            for l, v in enumerate(row):
                nxt = (v + M_PRIOR_PAIRS * m_starts[k][l]) / (seen + M_PRIOR_PAIRS)
                change = fmax(change, abs(nxt - m[k][l]))
                m[k][l] = nxt
        if not prior_fixed:
            nxt = min(max(matched / population, 1e-12), 0.999)
            change = fmax(change, abs((nxt - lam) / lam) * 1e-3)
            lam = nxt
        if change < 1e-7:
            return lam, it
    return lam, 1000


def monotone(w):
    w = list(w)
    if len(w) > 2:
        lo, hi = min(w[0], w[-1]), max(w[-1], w[0])
        for i in range(1, len(w) - 1):
            w[i] = lo if w[i] < lo else hi if w[i] > hi else w[i]
    return w


def logit2(p):
    return log2(p / (1.0 - p))


def probability(w):
    return 1.0 / (1.0 + exp2(-w))


def splitmix(k):
    """The k-th number (from 1) of exec.rs's SplitMix: the same random pairs as a local run."""
    z = (0x00C055C4EC4B1AE5 + k * 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def score(spec, weights, m, tf, base, pattern, freqs):
    """A pair's weight and each field's part (exec.rs's scoring), or None under the threshold."""
    parts = []
    for k, f in enumerate(spec["compare"]):
        l = pattern[k]
        if l < 0:
            parts.append(0.0)
        elif tf[k] is not None and l + 1 == len(f["labels"]):
            freq = 1 if freqs[k] is None else freqs[k]
            share = float(freq) / float(max(tf[k], 1))
            parts.append(fmax(log2(m[k][l] / share), weights[k][l - 1]))
        else:
            parts.append(weights[k][l])
    total = -0.0
    for p in parts:
        total += p
    w = base + total
    if shown(probability(w), 4) >= spec["threshold"]:
        return w, parts
    return None


def q(name):
    """A column reference by name (names such as `l.id_card` hold dots)."""
    return "`%s`" % name.replace("`", "``")


def check_link_ids(df, prefix, what, blank):
    """exec.rs's check_ids: every record has an `id`, and no two records share one; an error
    names the records by file and row (never the value)."""
    from pyspark.sql import functions as F

    fix = "choose an `id` that names one record each, such as a record or household number"
    cols = df.columns
    pos = df.withColumn("__pos", F.monotonically_increasing_id())

    def place(p):
        file_col, row_col = prefix + "__file", prefix + "__row"
        if file_col in cols and row_col in cols:
            r = pos.where(F.col("__pos") == p).select(
                F.col(q(file_col)).cast("string").alias("f"), F.col(q(row_col)).cast("string").alias("r")
            ).first()
            if r is not None and r["f"] is not None and r["r"] is not None:
                return "%s row %s" % (r["f"], r["r"])
        n = pos.where(F.col("__pos") < p).count()
        return "record %d" % (n + 1)

    trimmed = pos.select("__pos", blank(F.col("__link_id")).alias("k"))
    empty = trimmed.where(F.col("k").isNull()).agg(F.count("*").alias("n"), F.min("__pos").alias("p")).first()
    if empty["n"]:
        raise LinkError(
            "`id` (%s) is empty for %d record(s), the first at %s: a lead names its records by it; %s"
            % (what, empty["n"], place(empty["p"]), fix)
        )
    twice = (
        trimmed.where(F.col("k").isNotNull())
        .groupBy("k")
        .agg(F.slice(F.sort_array(F.collect_list("__pos")), 1, 2).alias("ps"))
        .where(F.size("ps") > 1)
        .orderBy(F.col("ps")[1])
        .first()
    )
    if twice is not None:
        raise LinkError(
            "`id` (%s) names two records, %s and %s: the leads could not tell them apart; %s"
            % (what, place(twice["ps"][0]), place(twice["ps"][1]), fix)
        )


def run_link(spark, spec, tables_b):
    """A `link` over the views spec["left"] and spec["right"] (exec.rs's `run`): returns the
    pairs at or above the threshold with both records and the evidence columns, and what was
    estimated. Blocking, comparing and counting run on the cluster; the estimation (over counts
    of level patterns) and the clusters (over the pairs kept) on the driver."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fields = spec["compare"]
    dedupe = spec["dedupe"]

    def prepared():
        return comparer(tables_b.value, fields)

    @F.udf(T.StringType())
    def blank(v):
        return None if v is None or v.strip(WHITE_SPACE) == "" else v.strip(WHITE_SPACE)

    state = {}

    def levels_of(va, vb):
        if "levels" not in state:
            state["levels"], state["folded"] = prepared()
        return state["levels"](va, vb)

    levels_udf = F.udf(levels_of, T.ArrayType(T.IntegerType()))

    def folded_udf(k):
        def f(raw):
            if "folded" not in state:
                state["levels"], state["folded"] = prepared()
            return state["folded"](k, raw)

        return F.udf(f, T.StringType())

    left = spark.table(q(spec["left"]))
    check_link_ids(left, "l.", spec["id_left"], blank)
    if not dedupe:
        right = spark.table(q(spec["right"]))
        check_link_ids(right, "r.", spec["id_right"], blank)

    # Records numbered in the order of their IDs, as the local engine numbers them.
    def numbered(view):
        return spark.sql(
            "SELECT *, CAST(row_number() OVER (ORDER BY `__link_id`) - 1 AS BIGINT) AS __n FROM %s"
            % q(view)
        ).cache()

    ln_ = numbered(spec["left"])
    rn_ = ln_ if dedupe else numbered(spec["right"])
    try:
        return link_numbered(spark, spec, ln_, rn_, levels_udf, folded_udf)
    finally:
        ln_.unpersist()
        if not dedupe:
            rn_.unpersist()


def link_numbered(spark, spec, ln_, rn_, levels_udf, folded_udf):
    from pyspark.sql import functions as F

    fields = spec["compare"]
    nf = len(fields)
    dedupe = spec["dedupe"]
    nl = ln_.count()
    nr = nl if dedupe else rn_.count()

    # Candidate pairs: each blocking rule's, a pair once, tagged with the first rule.
    union = None
    for r, rule in enumerate(spec["blocking"]):
        parts = ["__link_b%d_%d" % (r, p) for p in range(rule["parts"])]
        keyed = lambda df, side: df.select(
            F.col("__n").alias(side), *[F.col(q(p)).alias("%s%d" % (side, i)) for i, p in enumerate(parts)]
        ).where(" AND ".join("%s%d IS NOT NULL" % (side, i) for i in range(len(parts))))
        a, b = keyed(ln_, "a"), keyed(rn_, "b")
        counts_a = a.groupBy(*["a%d" % i for i in range(len(parts))]).agg(F.count("*").alias("n"))
        if dedupe:
            formed = counts_a.select(F.expr("max(n * (n - 1) div 2)")).first()[0]
        else:
            counts_b = b.groupBy(*["b%d" % i for i in range(len(parts))]).agg(F.count("*").alias("m"))
            cond = [counts_a["a%d" % i] == counts_b["b%d" % i] for i in range(len(parts))]
            formed = counts_a.join(counts_b, cond).select(F.max(F.col("n") * F.col("m"))).first()[0]
        if formed is not None and formed > spec["max_pairs"]:
            raise LinkError(
                "blocking rule %d (`%s`): one key would form %d pairs, more than max_pairs = %d; "
                "block on something more specific, or raise `max_pairs` if this is expected"
                % (r + 1, rule["text"], formed, spec["max_pairs"])
            )
        cond = [a["a%d" % i] == b["b%d" % i] for i in range(len(parts))]
        pairs = a.join(b, cond).select("a", "b", F.lit(r).alias("r"))
        if dedupe:
            pairs = pairs.where("a < b")
        union = pairs if union is None else union.unionByName(pairs)
    candidates = union.groupBy("a", "b").agg(F.min("r").alias("r"))

    def values(df, side):
        return df.select(
            F.col("__n").alias(side),
            F.col("__link_id").alias("id" + side),
            F.array(*[F.col("__link_c%d" % k) for k in range(nf)]).alias("v" + side),
        )

    va, vb = values(ln_, "a"), values(rn_, "b")
    scored = candidates.join(va, "a").join(vb, "b").withColumn("lv", levels_udf("va", "vb")).cache()
    try:
        return estimate_and_keep(spark, spec, ln_, rn_, nl, nr, va, vb, scored, levels_udf, folded_udf)
    finally:
        scored.unpersist()


def estimate_and_keep(spark, spec, ln_, rn_, nl, nr, va, vb, scored, levels_udf, folded_udf):
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    fields = spec["compare"]
    nf = len(fields)
    dedupe = spec["dedupe"]
    by_rule_counts = dict(
        (row["r"], row["count"]) for row in scored.groupBy("r").count().collect()
    )
    by_rule = [
        [rule["text"], int(by_rule_counts.get(r, 0))] for r, rule in enumerate(spec["blocking"])
    ]

    # u from random record pairs: exec.rs's draws, in its order, compared on the executors.
    total_pairs = nl * (nl - 1) // 2 if dedupe else nl * nr
    sample = min(spec["u_sample"], total_pairs)
    sc = spark.sparkContext

    def draw(j):
        return splitmix(2 * j + 1) % nl, splitmix(2 * j + 2) % nr

    every = total_pairs <= spec["u_sample"]
    draws = sample
    if dedupe and not every:
        # Draws of one record twice are passed over: as many more as it takes.
        while sample:
            rejected = sc.range(0, draws).filter(lambda j: draw(j)[0] == draw(j)[1]).count()
            if draws - rejected >= sample:
                break
            draws = sample + rejected
    counts = [[0] * len(f["labels"]) for f in fields]
    drawn = 0
    if sample:
        if every:
            # Few enough records for every pair: u counted, not sampled (as exec.rs does).
            pairs = ln_.select(F.col("__n").alias("a")).crossJoin(rn_.select(F.col("__n").alias("b")))
            if dedupe:
                pairs = pairs.where("a < b")
        else:
            pairs = spark.createDataFrame(sc.range(0, draws).map(draw), "a BIGINT, b BIGINT")
            if dedupe:
                pairs = pairs.where("a <> b")
        drawn = sample
        rows = (
            pairs.join(va, "a")
            .join(vb, "b")
            .select(F.posexplode(levels_udf("va", "vb")).alias("k", "l"))
            .where("l >= 0")
            .groupBy("k", "l")
            .count()
            .collect()
        )
        for row in rows:
            counts[row["k"]][row["l"]] += row["count"]
    u = [
        f["fixed_u"] if f["fixed_u"] is not None else u_from_counts(counts[k], f["u_default"])
        for k, f in enumerate(fields)
    ]

    # m and the prior by EM over the candidates' patterns of levels.
    patterns = sorted(
        (tuple(row["lv"]), float(row["count"])) for row in scored.groupBy("lv").count().collect()
    )
    tops = [len(f["labels"]) - 1 for f in fields]
    all_top = 0.0
    for pattern, count in patterns:
        shown_levels = [(k, l) for k, l in enumerate(pattern) if l >= 0]
        if shown_levels and all(l == tops[k] for k, l in shown_levels):
            all_top += count
    candidates = int(sum(c for _, c in patterns))
    m = [list(f["fixed_m"]) if f["fixed_m"] is not None else list(f["m_start"]) for f in fields]
    fixed = [f["fixed_m"] is not None for f in fields]
    population = float(max(total_pairs, 1))
    prior_fixed = spec["prior"] is not None
    start = spec["prior"] if prior_fixed else min(max(fmax(all_top, 1.0) / population, 1e-12), 0.5)
    prior, iterations = em(
        patterns, u, m, fixed, [f["m_start"] for f in fields], start, population, prior_fixed
    )
    share = 0.0 if candidates == 0 else min(prior * population / candidates, 1.0)
    weights = [monotone([log2(a / b) for a, b in zip(m[k], u[k])]) for k in range(nf)]

    # Term frequencies: how many records hold each value (both registers when linking two).
    tf = [None] * nf
    with_freq = va.select("a", "ida", "va")
    for k, f in enumerate(fields):
        if not f["term_frequency"]:
            continue
        fold = folded_udf(k)
        values = ln_.select(fold(F.col("__link_c%d" % k)).alias("v"))
        if not dedupe:
            values = values.unionByName(rn_.select(fold(F.col("__link_c%d" % k)).alias("v")))
        freq = values.where("v IS NOT NULL").groupBy("v").agg(F.count("*").alias("tf%d" % k)).cache()
        tf[k] = int(freq.agg(F.sum("tf%d" % k)).first()[0] or 0)
        with_freq = with_freq.withColumn("f%d" % k, fold(F.col("va")[k])).join(
            freq.withColumnRenamed("v", "f%d" % k), "f%d" % k, "left"
        )
    freq_cols = [F.col("tf%d" % k) if tf[k] is not None else F.lit(None).cast("long") for k in range(nf)]
    with_freq = with_freq.select("a", F.array(*freq_cols).alias("fa"))

    base = logit2(prior)
    scored_schema = T.StructType(
        [T.StructField("w", T.DoubleType()), T.StructField("parts", T.ArrayType(T.DoubleType()))]
    )

    @F.udf(scored_schema)
    def score_udf(pattern, freqs):
        out = score(spec, weights, m, tf, base, pattern, freqs)
        return None if out is None else (out[0], out[1])

    kept = (
        scored.join(with_freq, "a")
        .withColumn("s", score_udf("lv", "fa"))
        .where("s IS NOT NULL")
        .select("a", "b", "r", "lv", "ida", "idb", "s.w", "s.parts")
        .collect()
    )

    # Clusters: records joined by kept pairs (deduplicating); a pair is its own otherwise.
    if dedupe:
        parent = {}

        def find(x):
            parent.setdefault(x, x)
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for p in kept:
            ra, rb = find(p["a"]), find(p["b"])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        members = {}
        for p in kept:
            members.setdefault(find(p["a"]), set()).update([p["ida"], p["idb"]])
        names = {root: cluster_name(sorted(ids)) for root, ids in members.items()}
        clusters = [names[find(p["a"])] for p in kept]
    else:
        clusters = ["%s~%s" % (p["ida"], p["idb"]) for p in kept]
    order = sorted(range(len(kept)), key=lambda i: (clusters[i], kept[i]["a"], kept[i]["b"]))

    out_fields = [
        T.StructField("__a", T.LongType()),
        T.StructField("__b", T.LongType()),
        T.StructField("__ord", T.LongType()),
        T.StructField("match_probability", T.DoubleType()),
        T.StructField("match_weight", T.DoubleType()),
        T.StructField("blocked_by", T.StringType()),
        T.StructField("cluster", T.StringType()),
    ]
    for f in fields:
        out_fields.append(T.StructField(f["field"] + "_level", T.StringType()))
        out_fields.append(T.StructField(f["field"] + "_weight", T.DoubleType()))
    rows = []
    for n, i in enumerate(order):
        p = kept[i]
        row = [
            p["a"], p["b"], n,
            shown(probability(p["w"]), 4),
            shown(p["w"], 2),
            "%d: %s" % (p["r"] + 1, spec["blocking"][p["r"]]["text"]),
            clusters[i],
        ]
        for k, f in enumerate(fields):
            l = p["lv"][k]
            row.append(MISSING if l < 0 else f["labels"][l])
            row.append(shown(p["parts"][k], 2))
        rows.append(tuple(row))
    result = spark.createDataFrame(rows, T.StructType(out_fields))

    helpers = [c for c in ln_.columns if c.startswith("__link_") or c == "__n"]
    lcols = [c for c in ln_.columns if c not in helpers]
    if dedupe:
        rcols = ["r." + c[2:] if c.startswith("l.") else c for c in lcols]
    else:
        rcols = [c for c in rn_.columns if c not in helpers]
    lrec = ln_.select(F.col("__n").alias("__a"), *[F.col(q(c)).alias("__l%d" % i) for i, c in enumerate(lcols)])
    rsrc = lcols if dedupe else rcols
    rrec = rn_.select(F.col("__n").alias("__b"), *[F.col(q(c)).alias("__r%d" % i) for i, c in enumerate(rsrc)])
    out = (
        result.join(lrec, "__a")
        .join(rrec, "__b")
        .orderBy("__ord")
        .select(
            *[F.col("__l%d" % i).alias(c) for i, c in enumerate(lcols)],
            *[F.col("__r%d" % i).alias(c) for i, c in enumerate(rcols)],
            *[F.col(q(f.name)) for f in out_fields[3:]],
        )
    )
    estimated = {
        "rule": spec["rule"],
        "prior": prior,
        "prior_estimated": not prior_fixed,
        "candidate_match_share": share,
        "candidates": candidates,
        "pairs_by_blocking_rule": by_rule,
        "u_pairs": drawn,
        "em_iterations": iterations,
        "threshold": spec["threshold"],
        "pairs_at_threshold": len(kept),
        "fields": [
            {
                "field": f["field"],
                "levels": f["labels"],
                "m": m[k],
                "u": u[k],
                "weight": weights[k],
                "m_estimated": f["fixed_m"] is None,
                "u_estimated": f["fixed_u"] is None,
                "term_frequency": f["term_frequency"],
            }
            for k, f in enumerate(fields)
        ],
    }
    return out, estimated


def cluster_name(ids):
    shown_ids = 10
    name = "~".join(ids[:shown_ids])
    if len(ids) > shown_ids:
        name += "~…(+%d)" % (len(ids) - shown_ids)
    return name


if __name__ == "__main__":
    main()

"""`just bench`: m2pg on the large profile, side by side with the hardware limit and the peers.

Writes bench/results/<stamp>.json and latest.json, bench/results/latest.md and a PNG chart.
Usage: python bench/bench.py [--scales 1 10] [--sweep-scale 1] [--batch-size 10000] [--no-server]
       [--only catch-up] [--out DIR]
With --only catch-up, each scale runs only the full `m2pg run` and the catch-up after it, and
writes DIR/catch-up.json and catch-up.md (never latest.*).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import adbc_driver_postgresql.dbapi as pg  # noqa: E402
from catch_up import catch_up, run_command  # noqa: E402
from large_documents import plant  # noqa: E402
from limits import conversion_alone, copy_alone, limit_per_second  # noqa: E402
from measure import measure  # noqa: E402

from toolkit.runtime.servers import embedded_mongo, embedded_postgres  # noqa: E402
from toolkit.staging.layout import read_json  # noqa: E402
from toolkit.target.schema import create_schema  # noqa: E402
from transforms import APP  # noqa: E402

M2PG = [sys.executable, "-m", "toolkit.cli"]
STAGES = ("extract", "transform", "validate", "load", "reconcile")
SWEEP = (500, 1_000, 2_000, 5_000, 10_000, 20_000, 100_000)  # the sizes and the default
NEAR_BEST = 0.95  # a batch size this close to the fastest is as good: the smallest such holds least
MEMORY_TARGET_MB = 1024  # every command's peak, whatever the documents' size


class Databases:
    """Fresh databases on one embedded PostgreSQL, one per measurement."""

    def __init__(self, base_uri: str):
        self.base, self.count = base_uri, 0

    def fresh(self, schema: bool = True) -> str:
        self.count += 1
        name = f"bench_{self.count}"
        with pg.connect(self.base, autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {name}")
        uri = urlunsplit(urlsplit(self.base)._replace(path=f"/{name}"))
        if schema:
            create_schema(uri, APP.models, APP.junctions, APP.enums)
        return uri


def stages(source: list[str], uri: str, staging: Path, batch: int) -> dict:
    """Each stage in its own process, measured alone."""
    common = ["--staging", str(staging)]
    out = {}
    for stage in STAGES:
        extra = {
            "extract": [*source, "--batch-size", str(batch)],
            "load": ["--pg-uri", uri, "--batch-size", str(batch)],
            "reconcile": ["--pg-uri", uri],
        }.get(stage, [])
        out[stage] = measure([*M2PG, stage, *extra, *common]).as_dict()
    return out


def per_table(staging: Path) -> list[dict]:
    extract = {c["collection"]: c for c in read_json(staging / "reports" / "extract.json")["collections"]}
    transform = {c["collection"]: c for c in read_json(staging / "reports" / "transform.json")["collections"]}
    load = {t["table"]: t for t in read_json(staging / "reports" / "load.json")["tables"]}
    rows = []
    for name, e in extract.items():
        docs = e["documents"]
        rate = lambda s, docs=docs: round(docs / s) if s else None  # noqa: E731
        rows.append(
            {
                "table": name,
                "documents": docs,
                "extract_per_s": rate(e.get("seconds")),
                "transform_per_s": rate(transform[name].get("seconds")),
                "load_per_s": rate(load[name]["seconds"]),
            }
        )
    return rows


def run_scale(scale: float, dbs: Databases, work: Path, batch: int, with_server: bool, peers: bool) -> dict:
    dump = work / f"dump-{scale:g}"
    result = {"scale": scale}
    result["generate"] = measure([*M2PG, "generate", "large", "--scale", str(scale), "--dump-out", str(dump)]).as_dict()
    staging = work / f"staging-{scale}"
    target = dbs.fresh()
    result["stages"] = stages(["--dump", str(dump)], target, staging, batch)
    documents = read_json(staging / "reports" / "extract.json")["documents"]
    junction_rows = sum(j["rows"] for j in read_json(staging / "reports" / "transform.json")["junctions"])
    seconds = sum(s["seconds"] for s in result["stages"].values())
    result["documents"], result["junction_rows"] = documents, junction_rows
    result["stages_sum"] = {
        "seconds": round(seconds, 3),
        "per_second": round(documents / seconds),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in result["stages"].values()),
    }
    result["end_to_end"], result["catch_up"] = run_and_catch_up(scale, dump, dbs, work, batch)
    result["tables"] = per_table(staging)
    result["verify"] = {
        mode: measure(
            [*M2PG, "verify", "--dump", str(dump), "--pg-uri", target, "--staging", str(staging), *flags]
        ).as_dict()
        for mode, flags in (("sampled", []), ("full", ["--full"]))
    }
    result["queries"] = plan_queries(target)
    conversion = conversion_alone(dump)
    copy = copy_alone(staging, dbs.fresh())
    result["limit"] = {
        "conversion_alone": conversion,
        "copy_alone": copy,
        "per_second": limit_per_second(documents, conversion, copy),
    }
    result["ours_over_limit"] = round(result["end_to_end"]["per_second"] / result["limit"]["per_second"], 3)
    if peers:
        result["peers"] = {"row_by_row": run_peer("row_by_row", dump / "nextcrm", dbs.fresh(), work / f"naive-{scale}")}
        for file_format, name in (("insert_values", "dlt"), ("parquet", "dlt_parquet")):
            result["peers"][name] = run_peer(
                file_format, dump / "nextcrm", dbs.fresh(schema=False), work / f"{name}-{scale}"
            )
        for name, peer in result["peers"].items():
            result[f"ours_over_{name}"] = round(result["end_to_end"]["per_second"] / peer["per_second"], 2)
    if with_server:
        result["from_server"] = from_server(
            dump / "nextcrm", work / f"mongo-{scale}", work / f"staging-server-{scale}", batch
        )
    return result


def run_peer(name: str, dump: Path, uri: str, work: Path) -> dict:
    """A peer (`peers.py`) in a process of its own, timed as m2pg's commands are: its start and
    imports included; `seconds_inside` is its own timing, which leaves them out."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / "peer.json"
    run = measure([sys.executable, str(HERE / "peers.py"), name, str(dump), uri, str(work), str(out)]).as_dict()
    inside = json.loads(out.read_text())
    return {
        **inside,
        **run,
        "seconds_inside": inside["seconds"],
        "per_second": round(inside["documents"] / run["seconds"]),
    }


def run_and_catch_up(scale: float, dump: Path, dbs: Databases, work: Path, batch: int) -> tuple[dict, dict]:
    """`m2pg run` from the dump into a fresh database, then again from a changed copy of the
    dump into the same database and staging folder: the full run and the catch-up."""
    uri, staging = dbs.fresh(), work / f"run-{scale}"
    run = measure(run_command(M2PG, dump, uri, staging, batch)).as_dict()
    documents = read_json(staging / "reports" / "extract.json")["documents"]
    print(f"scale {scale:g}: catch-up ...", flush=True)
    return (
        {**run, "per_second": round(documents / run["seconds"])},
        catch_up(M2PG, dump, work / f"dump-{scale:g}-changed", uri, staging, batch, run["seconds"]),
    )


def catch_up_only(scale: float, dbs: Databases, work: Path, batch: int) -> dict:
    """The full run and the catch-up of one scale, nothing else of the bench."""
    dump = work / f"dump-{scale:g}"
    result = {"scale": scale}
    result["generate"] = measure([*M2PG, "generate", "large", "--scale", str(scale), "--dump-out", str(dump)]).as_dict()
    result["end_to_end"], result["catch_up"] = run_and_catch_up(scale, dump, dbs, work, batch)
    result["documents"] = result["catch_up"]["planted"]["documents"]
    return result


def megabyte_documents(dbs: Databases, work: Path, batch: int) -> dict:
    """Each stage alone, `m2pg run` and both verifies on the sample profile with accounts of
    megabytes (`large_documents`): their peak memory against the 1 GB target."""
    dump = work / "dump-megabytes"
    measure([*M2PG, "generate", "sample", "--dump-out", str(dump)])
    result = plant(dump)
    staging, target = work / "staging-megabytes", dbs.fresh()
    commands = stages(["--dump", str(dump)], target, staging, batch)
    commands["run"] = measure(run_command(M2PG, dump, dbs.fresh(), work / "run-megabytes", batch)).as_dict()
    for mode, flags in (("verify", []), ("verify --full", ["--full"])):
        commands[mode] = measure(
            [*M2PG, "verify", "--dump", str(dump), "--pg-uri", target, "--staging", str(staging), *flags]
        ).as_dict()
    return {**result, "commands": commands, "target_mb": MEMORY_TARGET_MB}


def plan_queries(uri: str) -> list[dict]:
    """The plan's queries on the loaded data, after `m2pg indexes --extra`, with EXPLAIN ANALYZE."""
    from toolkit.target.indexes import add_extra_indexes
    from toolkit.target.queries import run_queries

    add_extra_indexes(uri, APP.extra_indexes)
    with pg.connect(uri, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("ANALYZE")
    return [
        {k: q[k] for k in ("name", "simple", "execution_ms", "planning_ms", "uses_index", "indexes", "rows")}
        for q in run_queries(uri, APP.queries)
    ]


def from_server(dump: Path, folder: Path, staging: Path, batch: int) -> dict:
    """Extract from the embedded MongoDB-compatible server holding the same documents, and its
    peer: the same collections read sorted by `_id` with `find_raw_batches` alone."""
    import bson
    from bson.raw_bson import RawBSONDocument
    from pymongo import MongoClient

    with embedded_mongo(folder) as uri:
        database = MongoClient(uri, document_class=RawBSONDocument)["nextcrm"]
        for path in sorted(dump.glob("*.bson")):
            with path.open("rb") as fh:
                docs = list(bson.decode_file_iter(fh, bson.CodecOptions(document_class=RawBSONDocument)))
            for start in range(0, len(docs), 10_000):
                database[path.stem].insert_many(docs[start : start + 10_000], ordered=False)
        extract = measure(
            [
                *M2PG,
                "extract",
                "--mongo-uri",
                uri,
                "--mongo-db",
                "nextcrm",
                "--staging",
                str(staging),
                "--batch-size",
                str(batch),
            ]
        ).as_dict()
        reads = measure([sys.executable, str(HERE / "raw_reads.py"), uri, "nextcrm"]).as_dict()
    documents = read_json(staging / "reports" / "extract.json")["documents"]
    return {
        "extract": extract,
        "documents": documents,
        "per_second": round(documents / extract["seconds"]),
        "raw_reads": {**reads, "per_second": round(documents / reads["seconds"])},
        "extract_over_raw_reads": round(reads["seconds"] / extract["seconds"], 2),
    }


def warm_up(work: Path) -> dict:
    """One extract of the sample profile, untimed by the figures: the first run after an install
    compiles the BSON walk into numba's cache, a one-time cost that no later run pays."""
    dump = work / "dump-sample"
    measure([*M2PG, "generate", "sample", "--dump-out", str(dump)])
    return measure([*M2PG, "extract", "--dump", str(dump), "--staging", str(work / "staging-sample")]).as_dict()


def sweep(scale: float, dbs: Databases, work: Path) -> list[dict]:
    dump = work / f"dump-{scale:g}"
    if not dump.exists():
        measure([*M2PG, "generate", "large", "--scale", str(scale), "--dump-out", str(dump)])
    out = []
    for size in SWEEP:
        staging = work / f"sweep-{size}"
        run = measure(run_command(M2PG, dump, dbs.fresh(), staging, size)).as_dict()
        documents = read_json(staging / "reports" / "extract.json")["documents"]
        out.append({"batch_size": size, **run, "per_second": round(documents / run["seconds"])})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--sweep-scale", type=float, default=1)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--no-server", action="store_true", help="skip the runs from the embedded server")
    parser.add_argument(
        "--only",
        choices=["catch-up"],
        help="only the full run and the catch-up after it; writes catch-up.json and catch-up.md",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder of the results")
    args = parser.parse_args()
    results = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine(), "scales": []}
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="m2pg-bench-") as tmp,
        embedded_postgres(Path(tmp) / "pg", APP.database) as uri,
    ):
        work, dbs = Path(tmp), Databases(uri)
        results["warm_up"] = warm_up(work)
        for scale in args.scales:
            print(f"scale {scale} ...", flush=True)
            results["scales"].append(
                catch_up_only(scale, dbs, work, args.batch_size)
                if args.only
                else run_scale(scale, dbs, work, args.batch_size, not args.no_server, True)
            )
            (args.out / "partial.json").write_text(json.dumps(results, indent=2))
        if args.only:
            write_catch_up(results, args.out)
            return
        print("documents of megabytes ...", flush=True)
        results["megabytes"] = megabyte_documents(dbs, work, args.batch_size)
        print("batch-size sweep ...", flush=True)
        results["sweep"], results["sweep_scale"] = sweep(args.sweep_scale, dbs, work), args.sweep_scale
        best = max(r["per_second"] for r in results["sweep"])
        results["near_best"] = NEAR_BEST
        results["recommended_batch_size"] = min(
            r["batch_size"] for r in results["sweep"] if r["per_second"] >= NEAR_BEST * best
        )
    write(results, args.out)


def machine() -> dict:
    import os
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write(results: dict, out: Path) -> None:
    from report import chart, markdown

    stamp = results["started"].replace(":", "")
    for name in (f"{stamp}.json", "latest.json"):
        (out / name).write_text(json.dumps(results, indent=2))
    (out / "latest.md").write_text(markdown(results))
    chart(results, out / "latest.png")
    print(markdown(results))


def write_catch_up(results: dict, out: Path) -> None:
    from report import catch_up_markdown

    (out / "catch-up.json").write_text(json.dumps(results, indent=2))
    (out / "catch-up.md").write_text(catch_up_markdown(results))
    print(catch_up_markdown(results))


if __name__ == "__main__":
    main()

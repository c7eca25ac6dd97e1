"""The benchmark's Markdown table and PNG chart, from its JSON results."""

from __future__ import annotations

from pathlib import Path

PEERS = {  # name in the results -> (label in the table, label in the chart)
    "row_by_row": ("row-by-row loader (one INSERT per 1,000 rows)", "row-by-row loader"),
    "dlt": ("dlt pipeline, its default loader file format (insert_values)", "dlt (insert_values)"),
    "dlt_parquet": ("dlt pipeline, parquet files copied by ADBC", "dlt (parquet by ADBC)"),
}


def markdown(results: dict) -> str:
    lines = [
        f"# m2pg benchmark, {results['started']}",
        "",
        f"Machine: {results['machine']['cpus']} cores, Python {results['machine']['python']}.",
        "",
    ]
    if "warm_up" in results:
        lines += [
            f"An extract of the sample profile ran first, outside the figures, in "
            f"{results['warm_up']['seconds']:.1f} s: the first run after an install compiles the BSON "
            f"walk into numba's cache, once.",
            "",
        ]
    for s in results["scales"]:
        e2e = s["end_to_end"]
        lines += [
            f"## large profile, scale {s['scale']:g}: {s['documents']:,} documents"
            f" + {s['junction_rows']:,} junction rows",
            "",
            "| stage | seconds | docs/s | peak RSS MB | CPU % | cores busy |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, m in s["stages"].items():
            lines.append(
                f"| {name} | {m['seconds']:.2f} | {round(s['documents'] / m['seconds']):,} | "
                f"{m['peak_rss_mb']:.0f} | {m['cpu_percent']:.0f} | {_busy(m)} |"
            )
        if "stages_sum" in s:
            total = s["stages_sum"]
            lines.append(
                f"| the five stages above, one by one | {total['seconds']:.2f} | {total['per_second']:,} | "
                f"{total['peak_rss_mb']:.0f} | | |"
            )
        lines += [
            f"| **end to end: `m2pg run` from a dump** | {e2e['seconds']:.2f} | **{e2e['per_second']:,}** | "
            f"{e2e['peak_rss_mb']:.0f} | {e2e.get('cpu_percent', 0):.0f} | {_busy(e2e)} |"
        ]
        for mode, m in s.get("verify", {}).items():
            lines.append(
                f"| verify ({mode}) | {m['seconds']:.2f} | {round(s['documents'] / m['seconds']):,} | "
                f"{m['peak_rss_mb']:.0f} | {m['cpu_percent']:.0f} | {_busy(m)} |"
            )
        lines.append("")
        if e2e.get("cores_busy"):
            work, cores = e2e["cores_busy"] * e2e["seconds"], results["machine"]["cpus"]
            lines += [
                f"CPU % is m2pg's own processes; cores busy is the whole machine's, PostgreSQL included. "
                f"`m2pg run` kept {e2e['cores_busy']:.2f} of {cores} cores busy: {work:.1f} core-seconds "
                f"of work ({e2e['cpu_percent'] * e2e['seconds'] / 100:.1f} of them m2pg's own processes, the "
                "rest PostgreSQL's and whatever else the machine ran), so with this much work no schedule "
                f"finishes in less than {work / cores:.1f} s "
                f"({round(s['documents'] / (work / cores)):,} documents/s).",
                "",
            ]
        if "catch_up" in s:
            lines += catch_up_lines(s["catch_up"]) + [""]
        limit = s["limit"]
        lines += [
            "| compared with | docs/s | ours / it |",
            "|---|---:|---:|",
            f"| hardware limit (BSON->Arrow {limit['conversion_alone']['per_second']:,}/s + COPY "
            f"{limit['copy_alone']['per_second']:,} rows/s) | {limit['per_second']:,} | {s['ours_over_limit']:.2f} |",
        ]
        for name, peer in s.get("peers", {}).items():
            ratio = s["end_to_end"]["per_second"] / peer["per_second"]
            lines.append(f"| {PEERS.get(name, (name,))[0]} | {peer['per_second']:,} | {ratio:.2f} |")
        if "from_server" in s:
            fs = s["from_server"]
            lines.append(f"| extract from the embedded server (not a peer of the run) | {fs['per_second']:,} | |")
            if "raw_reads" in fs:
                lines.append(
                    f"| the server's sorted `find_raw_batches` alone (the extract's peer: target within 2x, "
                    f"extract / it >= 0.50) | {fs['raw_reads']['per_second']:,} | "
                    f"extract: {fs['extract_over_raw_reads']:.2f} |"
                )
        lines += ["", "| table | documents | extract/s | transform/s | load/s |", "|---|---:|---:|---:|---:|"]
        for t in sorted(s["tables"], key=lambda t: -t["documents"])[:12]:
            lines.append(
                f"| {t['table']} | {t['documents']:,} | {t['extract_per_s'] or '-'} | "
                f"{t['transform_per_s'] or '-'} | {t['load_per_s'] or '-'} |"
            )
        lines += ["", "| query (EXPLAIN ANALYZE, best of 3) | simple | ms | index used |", "|---|---|---:|---|"]
        for q in s.get("queries", []):
            lines.append(
                f"| {q['name']} | {'yes' if q['simple'] else 'no'} | {q['execution_ms']:.2f} | "
                f"{', '.join(q['indexes']) or 'none'} |"
            )
        lines.append("")
    if "megabytes" in results:
        lines += megabyte_lines(results["megabytes"]) + [""]
    lines += [
        f"## batch-size sweep (scale {results.get('sweep_scale', 1)}, `m2pg run` from a dump)",
        "",
        "| batch size | seconds | docs/s | peak RSS MB |",
        "|---:|---:|---:|---:|",
    ]
    for r in results.get("sweep", []):
        lines.append(f"| {r['batch_size']:,} | {r['seconds']:.2f} | {r['per_second']:,} | {r['peak_rss_mb']:.0f} |")
    if "recommended_batch_size" in results:
        lines += [
            "",
            f"Recommended batch size: {results['recommended_batch_size']:,} (the smallest within "
            f"{1 - results.get('near_best', 0.95):.0%} of "
            f"the fastest: memory grows with the batch, speed levels off)",
        ]
    return "\n".join(lines) + "\n"


def megabyte_lines(m: dict) -> list[str]:
    """Each command's peak memory on documents of megabytes, against the target."""
    large = " and ".join(f"{g['documents']:,} of {g['megabytes']} MB" for g in m["large"])
    peak = max(c["peak_rss_mb"] for c in m["commands"].values())
    mark = "met" if peak < m["target_mb"] else "**not met**"
    lines = [
        f"## documents of megabytes: the sample profile, whose {m['documents']:,} accounts hold {large} "
        f"({m['collection_bytes'] / 1e6:,.0f} MB)",
        "",
        "| command | seconds | peak RSS MB |",
        "|---|---:|---:|",
    ]
    lines += [f"| `m2pg {name}` | {c['seconds']:.2f} | {c['peak_rss_mb']:.0f} |" for name, c in m["commands"].items()]
    return lines + ["", f"Every command's peak under {m['target_mb']:,} MB: {mark} (largest {peak:.0f} MB)."]


def catch_up_lines(c: dict) -> list[str]:
    """The catch-up against the full run, and the rows it wrote against the changes planted."""
    planted = c["planted"]
    lines = [
        f"Catch-up: `m2pg run` again into the same target and staging folder after "
        f"{planted['changed']:,} of the {planted['documents']:,} documents changed, {planted['deleted']:,} "
        f"were deleted and {planted['added']:,} added (the source's copy took {c['derive_seconds']:.1f} s, "
        f"untimed)."
    ]
    if "error" in c:
        return lines + ["", f"The catch-up failed: `{c['error'].strip().splitlines()[-1]}`"]
    mark = "met" if c["met"] else "**not met**"
    lines += [
        "",
        "| | seconds | share of the full run | target |",
        "|---|---:|---:|---:|",
        f"| full run (`m2pg run` from the dump) | {c['full_run_seconds']:.2f} | 100% | |",
        f"| catch-up | {c['seconds']:.2f} | {c['ratio']:.0%} | at most {c['target_ratio']:.0%}: {mark} |",
        "",
        "| rows written (pg_stat_user_tables) | inserted | updated | deleted |",
        "|---|---:|---:|---:|",
    ]
    labels = {
        "models": "the app's model tables",
        "junctions": "the app's junction tables",
        "bookkeeping": "m2pg's own schema (`m2pg`)",
        "other": "other tables",
    }
    for part, label in labels.items():
        w = c["rows_written"][part]
        if part in ("models", "junctions") or any(w.values()):
            lines.append(f"| {label} | {w['inserted']:,} | {w['updated']:,} | {w['deleted']:,} |")
    lines.append(
        f"| documents planted in the source | {planted['added']:,} added | {planted['changed']:,} changed | "
        f"{planted['deleted']:,} deleted |"
    )
    load = c.get("load_report") or {}
    if load:
        lines.append(
            "| the load's report (all tables) | "
            + " | ".join(f"{load[k]:,}" if k in load else "-" for k in ("inserted", "updated", "deleted"))
            + " |"
        )
    lines += [
        "",
        "The model tables' rows written are "
        + ("exactly" if c["models_as_planted"] else "**not**")
        + " the documents planted; a junction table's rows are the pairs in the arrays of the deleted "
        "and added documents"
        + (f"; the load counts {load['unchanged']:,} rows unchanged." if "unchanged" in load else "."),
    ]
    return lines


def catch_up_markdown(results: dict) -> str:
    """`bench.py --only catch-up`: the full run and the catch-up, per scale."""
    lines = [
        f"# m2pg catch-up benchmark, {results['started']}",
        "",
        f"Machine: {results['machine']['cpus']} cores, Python {results['machine']['python']}.",
        "",
    ]
    for s in results["scales"]:
        lines += [f"## large profile, scale {s['scale']:g}: {s['documents']:,} documents", ""]
        lines += catch_up_lines(s["catch_up"]) + [""]
    return "\n".join(lines) + "\n"


def _busy(measured: dict) -> str:
    return f"{measured['cores_busy']:.2f}" if measured.get("cores_busy") else "-"


def chart(results: dict, path: Path) -> None:
    """Documents per second: ours, the limit and the peers, per scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"scale {s['scale']:g}" for s in results["scales"]]
    bars = {
        "hardware limit": [s["limit"]["per_second"] for s in results["scales"]],
        "m2pg end to end": [s["end_to_end"]["per_second"] for s in results["scales"]],
    }
    for name in ("dlt_parquet", "dlt", "row_by_row"):
        bars[PEERS[name][1]] = [s.get("peers", {}).get(name, {}).get("per_second", 0) for s in results["scales"]]
    figure, axis = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(bars)
    for position, (name, values) in enumerate(bars.items()):
        offset = (position - (len(bars) - 1) / 2) * width
        axis.bar([i + offset for i in range(len(labels))], values, width, label=name)
    axis.set_xticks(range(len(labels)), labels)
    axis.set_ylabel("documents per second")
    axis.set_title("m2pg on the large NextCRM profile")
    axis.legend(loc="center left", bbox_to_anchor=(1, 0.5), fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)

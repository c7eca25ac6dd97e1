"""What a staging folder (and a target) holds now: per collection, what extract and transform
have done and how old it is; what the load left in the target; and any damage, named with the
stage to re-run. `m2pg status` renders it (`reports/console.py`)."""

from __future__ import annotations

import time
from pathlib import Path

from toolkit.declarations.app import App
from toolkit.stages import load as load_mod
from toolkit.stages.extract import other_raw
from toolkit.stages.transform.fingerprint import refused
from toolkit.staging.layout import DamagedStaging, Staging, read_json, read_manifest, size_problem, stale_reports
from toolkit.staging.layout import damaged as staging_damaged

STAGES = ("extract", "transform", "validate", "load", "reconcile")


def age(path: Path) -> str:
    seconds = int(time.time() - path.stat().st_mtime)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def status(app: App, root: Path, pg_uri: str | None = None) -> dict:
    """{"root", "rows": one list of cells per collection, "stages": stage -> age of its last report
    (None: not finished), "stale" (`stale_reports`), "other_version" (`other_version`), "damage":
    lines, "target": what the load left there (with a URI)}."""
    staging = Staging(root)
    rows: list[list[str]] = []
    damage: list[str] = []
    for m in app.models:
        manifest, cleaned = staging.manifest(m.source), staging.clean(m.table) / "manifest.json"
        raw, clean = _readable(manifest, damage), _readable(cleaned, damage)
        files = [staging.raw_dir(m.source) / p["file"] for p in raw["parts"]] if isinstance(raw, dict) else []
        files += [cleaned.parent / name for name in clean["parts"]] if isinstance(clean, dict) else []
        damage += filter(None, map(size_problem, files))
        latest = max((p for p in (manifest, cleaned) if p.exists()), key=lambda p: p.stat().st_mtime, default=None)
        if isinstance(raw, dict):
            total = len(raw["parts"])
            said = " (absent from the source)" if raw.get("absent") else ""
            said += "" if raw.get("complete") else " (interrupted)"
            cells = [f"{raw['documents']}{said}", str(total)]
        else:
            total, cells = None, [raw or "-", "-"]
        if isinstance(clean, dict) and clean["parts"]:
            staged = {p["file"] for p in raw["parts"]} if isinstance(raw, dict) else set(clean["parts"])
            # of an earlier extract: a part no longer staged is no part of this one
            reports = [p["report"] for name, p in clean["parts"].items() if name in staged]
            done = f"{len(reports)} of {max(total, 1)}" if total is not None else str(len(reports))
            cells += [done, str(sum(r["clean"] for r in reports)), str(sum(r["quarantined"] for r in reports))]
        elif clean == "damaged":
            cells += [clean] * 3
        else:
            cells += ["-" if total is None else f"0 of {max(total, 1)}", "-", "-"]
        rows.append([m.source, *cells, age(latest) if latest else "-"])
    finished = {stage: staging.report(f"{stage}.json") for stage in STAGES}
    return {
        "root": str(root),
        "rows": rows,
        "stages": {stage: age(path) if path.exists() else None for stage, path in finished.items()},
        "stale": stale_reports(staging.root),
        "other_version": other_version(staging.root),
        "damage": damage,
        "target": target_status(pg_uri) if pg_uri else None,
    }


def other_version(root: Path) -> dict | None:
    """{"stage", "reason", "hint"}: the first stage whose staged output another version of m2pg
    made, in the words of the stage that refuses it; that stage and every one after it must be
    run again. None when this version made all of it."""
    staging = Staging(root)
    for manifest in sorted(staging.root.glob("raw/*/manifest.json")):
        try:
            refusal = other_raw(manifest.parent.name, read_json(manifest))
        except (DamagedStaging, AttributeError):  # named as damage where it is shown
            continue
        if refusal:
            return {"stage": "extract", "reason": refusal.args[0], "hint": refusal.hint}
    try:
        refusal = refused(staging, "validate") if staging.report("transform.json").exists() else None
    except (DamagedStaging, AttributeError):
        refusal = None
    return {"stage": "transform", "reason": refusal.args[0], "hint": refusal.hint} if refusal else None


def _readable(path: Path, damage: list[str]) -> dict | str | None:
    """A manifest whose parts status can list; None when there is none; "damaged" (with a line
    in `damage` naming it) when it cannot be read."""
    if not path.exists():
        return None
    try:
        found = read_manifest(path, "parts")
        if isinstance(found["parts"], list):  # extract's: a list of parts, and the documents read
            [(p["file"], int(p["rows"])) for p in found["parts"]], int(found["documents"])
        else:  # transform's: each part's report
            [(int(p["report"]["clean"]), int(p["report"]["quarantined"])) for p in found["parts"].values()]
        return found
    except DamagedStaging as error:
        damage.append(str(error))
    except (KeyError, TypeError, ValueError, AttributeError):
        damage.append(str(staging_damaged(path, "is garbled (its parts cannot be read)")))
    return "damaged"


def target_status(pg_uri: str) -> dict:
    """The batches the ledger records per table, and the foreign keys waiting to be restored."""
    return {"uri": pg_uri, "ledger": load_mod.LEDGER, "deferred": load_mod.DEFERRED, **load_mod.target_progress(pg_uri)}

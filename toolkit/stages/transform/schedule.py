"""The stage as a whole: every model, then every junction table, in load order on one process
or as jobs on worker processes, each started once the models it reads are done; a worker reads
that outcome from the staged files, as a resumed run does."""

from __future__ import annotations

from toolkit.declarations.spec import Junction, ModelSpec
from toolkit.runtime import parallel
from toolkit.runtime.parallel import Job
from toolkit.runtime.progress import bars
from toolkit.stages.reports import TransformReport
from toolkit.stages.transform.collection import raw_manifest, transform_model
from toolkit.stages.transform.fingerprint import RULES_VERSION
from toolkit.stages.transform.junctions import write_junction
from toolkit.stages.transform.outcome import Outcome, collections_of, remember
from toolkit.staging.layout import RAW_VERSION, Staging, write_json


def transform(staging: Staging, models, junctions, enums, workers: int | None = None) -> TransformReport:
    """Every model, then every junction table; on `workers` processes (None: by the size of the
    raw parts), each as soon as what it reads is done."""
    manifests = {m.name: raw_manifest(staging, m) for m in models}
    count = parallel.workers_for(raw_volume(staging, models, manifests), workers)
    with bars() as progress:
        if count <= 1:
            reports, tables = _in_order(staging, models, junctions, enums, progress)
        else:
            reports, tables = _side_by_side(staging, models, junctions, enums, manifests, count, progress)
    report: TransformReport = {
        "collections": reports,
        "junctions": tables,
        "documents": sum(r["documents"] for r in reports),
        "clean": sum(r["clean"] for r in reports),
        "quarantined": sum(r["quarantined"] for r in reports),
        "parts_skipped": sum(r["parts_skipped"] for r in reports),
        "parts_done": sum(r["parts_done"] for r in reports),
        "rules_version": RULES_VERSION,
        "raw_version": RAW_VERSION,
    }
    write_json(report, staging.report("transform.json"))
    return report


def raw_volume(staging: Staging, models, manifests: dict) -> int:
    """Bytes of the raw parts to transform, which decide how many workers pay."""
    return sum(
        (staging.raw_dir(m.source) / p["file"]).stat().st_size for m in models for p in manifests[m.name]["parts"]
    )


def _in_order(staging: Staging, models, junctions, enums, progress) -> tuple[list, list]:
    """One process, models in load order, each judged against the outcome the earlier ones left."""
    outcome = Outcome(collections=collections_of(models))
    reports = []
    for m in models:
        reports.append(transform_model(staging, m, junctions, enums, outcome, progress))
        remember(staging, m, outcome)  # for the models after it
    tables = [write_junction(staging, j, models, outcome, progress) for j in junctions]
    return reports, tables


def _side_by_side(
    staging: Staging, models, junctions, enums, manifests: dict, workers: int, progress
) -> tuple[list, list]:
    """Models and junctions as jobs on worker processes, each started once the models it reads
    are done; the largest ready model first, junctions when no model is ready."""
    by_name = {m.name: m for m in models}
    rows = {m.name: sum(p["rows"] for p in manifests[m.name]["parts"]) for m in models}
    jobs: dict[str, Job] = {}
    needs: dict[str, set[str]] = {}
    for m in sorted(models, key=lambda m: -rows[m.name]):
        targets = sorted({f.parent.model for f in m.references} - {m.name})  # its own outcome it makes itself
        jobs[m.name] = (
            _model_job,
            (staging, m, junctions, enums, tuple(by_name[t] for t in targets), collections_of(models)),
        )
        needs[m.name] = set(targets)
    for j in junctions:
        ends = sorted({j.left.model, j.right.model})  # the models whose arrays feed it are among them
        jobs[_junction_job_name(j)] = (_junction_job, (staging, j, tuple(by_name[e] for e in ends)))
        needs[_junction_job_name(j)] = set(ends)
    done = parallel.run_graph(jobs, needs, workers, progress, "transform")
    return [done[m.name] for m in models], [done[_junction_job_name(j)] for j in junctions]


def _junction_job_name(j: Junction) -> str:
    return f"junction {j.table}"  # apart from the model names


_seen: dict[tuple, bytes] = {}  # in a worker: (staging, model) -> what its outcome was read from
_known = Outcome()  # in a worker: the outcome of the models its jobs have read or made


def _recall(staging: Staging, models) -> Outcome:
    """In a worker: the outcome of `models`, read from their staged files once per process
    (again only if a model's clean manifest changed). What this job does not read is let go,
    so a worker's memory stays that of one job."""
    wanted = {m.name for m in models}
    for held in (_known.kept, _known.quarantined, _known.digests):
        for name in set(held) - wanted:
            del held[name]
    for key in [key for key in _seen if key[1] not in wanted]:
        del _seen[key]
    _known.idmaps.clear()
    for model in models:
        state = _staged(staging, model)
        if _seen.get((staging.root, model.name)) != state:
            remember(staging, model, _known)
            _seen[staging.root, model.name] = state
    return _known


def _model_job(
    staging: Staging, model: ModelSpec, junctions, enums, targets: tuple, collections: dict[str, str], progress
) -> dict:
    """In a worker: one model, judged against the staged outcome of the models it references."""
    outcome = _recall(staging, targets)
    outcome.collections = collections
    return transform_model(staging, model, junctions, enums, outcome, progress)  # a later job recalls what it kept


def _junction_job(staging: Staging, j: Junction, ends: tuple, progress) -> dict:
    """In a worker: one junction table, from the staged outcome of the models at its ends."""
    return write_junction(staging, j, ends, _recall(staging, ends), progress)


def _staged(staging: Staging, model: ModelSpec) -> bytes:
    """What a model's staged outcome was made from: its clean manifest, written last."""
    return (staging.clean(model.table) / "manifest.json").read_bytes()

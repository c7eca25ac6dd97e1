"""The on-disk layout that stages meet on, and atomic writes into it.

<staging>/raw/<collection>/part-NNNNN.parquet   extract: typed columns + original BSON
<staging>/raw/<collection>/manifest.json        written last, lists the parts
<staging>/idmap/<collection>.parquet            collection, object_id, id
<staging>/clean/<table>/part-NNNNN.parquet      transform: rows exactly as loaded, one file per raw part
<staging>/clean/<table>/manifest.json           what each clean part was made from (its checkpoint)
<staging>/quarantine/<collection>/part-NNNNN.parquet   records that cannot be migrated
<staging>/reports/<stage>.json                  what each stage did

A part's manifest records the part's size and sha256 as written; the stage that reads the part
checks them first (`checked`), so a part damaged on disk stops the stage with its name and the
stage to re-run instead of loading what it holds.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from toolkit.runtime.errors import M2pgError
from toolkit.runtime.redact import scrub

if TYPE_CHECKING:
    import polars as pl

RAW_VERSION = "5"  # what extract decodes into a raw part: bump when it stages other columns or values

WRITERS = {"raw": "extract", "idmap": "extract", "clean": "transform", "quarantine": "transform"}


class DamagedStaging(M2pgError):
    """A staged file that is not what the stage before wrote: truncated, edited, unreadable."""

    exit_code = 1


def writer_of(path: Path) -> str:
    """The stage that writes a staged file, from where it lies."""
    parts = Path(path).parts
    for folder in reversed(parts[:-1]):
        if folder in WRITERS:
            return WRITERS[folder]
        if folder == "reports":
            return Path(path).stem.split("_")[0]
    return "the stage that wrote it"


def damaged(path: Path, what: str) -> DamagedStaging:
    """The one-line error for a staged file that cannot be trusted, naming the stage to re-run."""
    writer = writer_of(path)
    rerun = f"re-run `m2pg {writer}`" if " " not in writer else f"re-run {writer}"
    return DamagedStaging(f"{path} {what}; {rerun}")


@dataclass(frozen=True)
class Staging:
    root: Path

    def raw_dir(self, collection: str) -> Path:
        return self.root / "raw" / collection

    def manifest(self, collection: str) -> Path:
        return self.raw_dir(collection) / "manifest.json"

    def idmap(self, collection: str) -> Path:
        return self.root / "idmap" / f"{collection}.parquet"

    def clean(self, table: str) -> Path:
        return self.root / "clean" / table

    def clean_parts(self, table: str) -> list[Path]:
        return sorted(self.clean(table).glob("part-*.parquet"))

    def quarantine(self, collection: str) -> Path:
        return self.root / "quarantine" / collection

    def quarantine_parts(self, collection: str) -> list[Path]:
        return sorted(self.quarantine(collection).glob("part-*.parquet"))

    def report(self, name: str) -> Path:
        return self.root / "reports" / name


def transform_predates_extract(staging: Staging) -> bool:
    """Whether the transform's output was made before the last extract began: its clean rows and
    quarantine are of the data staged before, which no later stage may take for the current."""
    run, report = staging.root / "raw" / "run.json", staging.report("transform.json")
    return run.exists() and report.exists() and report.stat().st_mtime_ns < run.stat().st_mtime_ns


STAGE_INPUTS = {  # what each stage's report was made from: the earlier stages whose output it read
    "transform": ("extract",),
    "validate": ("extract", "transform"),
    "load": ("extract", "transform"),
    "reconcile": ("extract", "transform", "load"),
    "verify": ("extract", "transform", "load"),
}


def stale_reports(root: Path) -> dict[str, str]:
    """Stage -> the earlier stage run again since the stage's report was written: that report is
    of data no longer staged (or of a target since loaded again), and says so where it is shown."""
    reports = Path(root) / "reports"

    def finished(stage: str) -> int | None:
        paths = [reports / f"{stage}.json"] + ([Path(root) / "raw" / "run.json"] if stage == "extract" else [])
        times = [p.stat().st_mtime_ns for p in paths if p.exists()]
        return max(times) if times else None

    found = {}
    for stage, inputs in STAGE_INPUTS.items():
        own = reports / f"{stage}.json"
        if not own.exists():
            continue
        since = own.stat().st_mtime_ns
        newer = [s for s in inputs if (finished(s) or 0) > since]
        if newer:
            found[stage] = newer[0]
    return found


def _atomic(path: Path, write) -> None:
    """Write through a temporary file and rename, so a crash never leaves a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(table: pa.Table, path: Path, compression: str = "lz4", **options) -> None:
    _atomic(path, lambda tmp: pq.write_table(table, tmp, compression=compression, **options))


def write_frame(frame: pl.DataFrame, path: Path) -> None:
    """A polars frame written by polars itself: no copy of it into Arrow's layout first, which
    would double a part's memory while it is written. Polars encodes the file in memory (a part's
    compressed size) and Python writes it: polars' own writer reports a full disk or a file size
    limit as a ComputeError ("Invalid thrift: transport error") that names no cause at all."""

    def write(tmp: str) -> None:
        encoded = io.BytesIO()
        frame.write_parquet(encoded, compression="lz4")
        with open(tmp, "wb") as fh:
            fh.write(encoded.getbuffer())

    _atomic(path, write)


def write_parquet_slices(tables: Iterator[pa.Table], path: Path, compression: str = "lz4") -> None:
    """One Parquet file written a table at a time (a row group each), never all in memory; at
    least one table, which gives the schema."""

    def write(tmp: str) -> None:
        first = next(tables)
        with pq.ParquetWriter(tmp, first.schema, compression=compression) as writer:
            writer.write_table(first)
            for table in tables:
                writer.write_table(table)

    _atomic(path, write)


def write_json(data: object, path: Path) -> None:
    """Reports quote drivers' messages: any password m2pg was given is scrubbed from them."""
    write_text(json.dumps(data, indent=2, default=str), path)


def write_text(text: str, path: Path) -> None:
    def dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(scrub(text))

    _atomic(path, dump)


def read_json(path: Path) -> Any:
    """A staged JSON file; a garbled one stops the command naming it (a missing one raises
    FileNotFoundError, for the caller to say what to run first)."""
    try:
        return json.loads(Path(path).read_bytes())
    except ValueError as error:
        raise damaged(path, f"is garbled ({type(error).__name__}: {error})") from None
    except (IsADirectoryError, PermissionError) as error:
        raise damaged(path, f"cannot be read ({error.strerror})") from None


def read_manifest(path: Path, *keys: str) -> dict:
    """A manifest that holds `keys`, else it is damaged."""
    manifest = read_json(path)
    missing = [k for k in keys if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise damaged(path, f"is garbled (no {', '.join(missing)})")
    return manifest


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


@functools.lru_cache(maxsize=4096)
def _sha256_at(path: Path, size: int, modified_ns: int) -> str:
    return sha256_of(path)


def cached_sha256(path: Path) -> tuple[os.stat_result, str]:
    """The file's stat and sha256, hashed once per process while its size and time stay the same."""
    stat = path.stat()
    return stat, _sha256_at(path, stat.st_size, stat.st_mtime_ns)


def file_record(path: Path) -> dict:
    """What a manifest records of a file just written, for the stages that read it to check."""
    return {"file_bytes": path.stat().st_size, "file_sha256": sha256_of(path)}


@functools.lru_cache(maxsize=64)
def _manifest_at(path: Path, size: int, modified_ns: int) -> dict:
    return read_json(path)


def recorded(path: Path) -> dict | None:
    """The size and digest the writer recorded for a staged file: a part's in its folder's
    manifest, an idmap's in its collection's raw manifest; None if none was recorded."""
    path = Path(path)
    key = "file_sha256"
    if path.parent.name == "idmap":
        manifest_path, name = path.parent.parent / "raw" / path.stem / "manifest.json", None
    elif path.parent.parent.name == "quarantine":  # recorded by transform beside the clean part
        manifest_path, name, key = (
            _clean_manifest_of(path.parent.parent.parent, path.parent.name),
            path.name,
            "quarantine",
        )
    else:
        manifest_path, name = path.parent / "manifest.json", path.name
    try:
        stat = manifest_path.stat()
    except FileNotFoundError:
        return None
    manifest = _manifest_at(manifest_path, stat.st_size, stat.st_mtime_ns)
    try:
        if name is None:
            entry = manifest.get("idmap")
        elif isinstance(manifest["parts"], dict):
            entry = manifest["parts"].get(name)
        else:
            entry = next((p for p in manifest["parts"] if p.get("file") == name), None)
        if entry is not None and key != "file_sha256":
            entry = entry.get(key)
        if entry is None or "file_sha256" not in entry:
            return None
        return {"file_bytes": int(entry["file_bytes"]), "file_sha256": str(entry["file_sha256"])}
    except (AttributeError, KeyError, TypeError, ValueError):
        raise damaged(manifest_path, "is garbled (its parts cannot be read)") from None


def _clean_manifest_of(root: Path, collection: str) -> Path:
    """The clean manifest recording a collection's quarantine parts: that of the table extract
    named in the collection's raw manifest (a folder staged without the name: the collection's)."""
    raw = root / "raw" / collection / "manifest.json"
    try:
        stat = raw.stat()
        table = _manifest_at(raw, stat.st_size, stat.st_mtime_ns).get("table", collection)
    except (FileNotFoundError, DamagedStaging, AttributeError):
        table = collection
    return root / "clean" / str(table) / "manifest.json"


def checked_all(paths) -> list[Path]:
    """The paths, once each file matches what its writer recorded."""
    return [checked(path) for path in paths]


def checked_digest(path: Path) -> str:
    """The sha256 of a staged file once it matches the size and digest its writer recorded
    (a file staged without a record is taken as it is). A file is read once per process,
    however many times a stage asks, unless it changes."""
    path = Path(path)
    record = recorded(path)
    try:
        stat = path.stat()
        if record and stat.st_size != record["file_bytes"]:
            raise damaged(
                path,
                f"holds {stat.st_size} bytes where {writer_of(path)} wrote {record['file_bytes']} "
                "(truncated or damaged)",
            )
        digest = _sha256_at(path, stat.st_size, stat.st_mtime_ns)
    except FileNotFoundError:
        raise damaged(path, "is missing") from None
    except OSError as error:
        raise damaged(path, f"cannot be read ({error.strerror})") from None
    if record and digest != record["file_sha256"]:
        raise damaged(path, f"is not the file {writer_of(path)} wrote (its sha256 differs: damaged or edited)")
    return digest


def intact(path: Path, record: dict) -> bool:
    """Whether a file a stage wrote earlier is still as it recorded, for that stage to trust it on a
    re-run (a file recorded without a digest: whether it exists)."""
    if "file_sha256" not in record:
        return path.exists()
    try:
        return path.stat().st_size == record["file_bytes"] and sha256_of(path) == record["file_sha256"]
    except OSError:
        return False


def size_problem(path: Path) -> str | None:
    """A quick look, without reading the file: missing, or of another size than recorded."""
    try:
        record = recorded(path)
        size = path.stat().st_size
    except FileNotFoundError:
        return str(damaged(path, "is missing"))
    except DamagedStaging as error:
        return str(error)
    if record and size != record["file_bytes"]:
        return str(damaged(path, f"holds {size} bytes where {writer_of(path)} wrote {record['file_bytes']}"))
    return None


def checked(path: Path) -> Path:
    """The path, once the file matches what its writer recorded."""
    checked_digest(path)
    return path

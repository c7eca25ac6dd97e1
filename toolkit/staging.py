"""The on-disk layout that stages meet on, and atomic writes into it.

<staging>/raw/<collection>/part-NNNNN.parquet   extract: typed columns + original BSON
<staging>/raw/<collection>/manifest.json        written last, lists the parts
<staging>/idmap/<collection>.parquet            collection, object_id, id
<staging>/clean/<table>/part-NNNNN.parquet      transform: rows exactly as loaded, one file per raw part
<staging>/clean/<table>/manifest.json           what each clean part was made from (its checkpoint)
<staging>/quarantine/<collection>/part-NNNNN.parquet   records that cannot be migrated
<staging>/reports/<stage>.json                  what each stage did
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


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


def write_json(data: object, path: Path) -> None:
    def dump(tmp: str) -> None:
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=2, default=str)
    _atomic(path, dump)


def write_text(text: str, path: Path) -> None:
    def dump(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(text)
    _atomic(path, dump)


def read_json(path: Path) -> object:
    return json.loads(path.read_text())

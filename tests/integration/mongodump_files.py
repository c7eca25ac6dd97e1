"""mongodump's other outputs, written from a plain dump folder by their documented layout (mongodump
itself is not installed here): `--gzip` folders and `--archive` files, gzipped or not."""

import gzip
import shutil
from itertools import zip_longest
from pathlib import Path
from urllib.parse import unquote_plus

import bson
from bson import Int64

ARCHIVE_MAGIC = (0x8199E26D).to_bytes(4, "little")
TERMINATOR = b"\xff\xff\xff\xff"


def documents(data: bytes) -> list[bytes]:
    """The raw documents of a .bson file, each as it is."""
    found, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "little")
        found.append(data[at : at + size])
        at += size
    return found


def gzip_folder(plain: Path, target: Path) -> Path:
    """What `mongodump --gzip` writes: every .bson and .metadata.json file gzipped."""
    target.mkdir(parents=True)
    for path in plain.iterdir():
        with path.open("rb") as source, gzip.open(target / f"{path.name}.gz", "wb") as out:
            shutil.copyfileobj(source, out)
    return target


def archive(
    folders: dict[str, Path],
    target: Path,
    gzipped: bool = False,
    per_segment: int = 7,
    extra_namespaces: tuple[str, ...] = (),
    views: tuple[str, ...] = (),
    timeseries: tuple[str, ...] = (),
    oplog: bool = False,
) -> Path:
    """What `mongodump --archive` writes for the databases in `folders` (name -> folder of .bson
    files): the prelude, then segments of `per_segment` documents interleaved across collections,
    then each namespace's EOF header. `extra_namespaces` get metadata and an EOF but no data
    (an empty collection); `views`, metadata of type view only (mongodump dumps a view's
    definition, neither data nor an EOF); `timeseries`, metadata of type timeseries and one bucket
    of data under system.buckets.<name>, as mongodump writes them for a server before 8.3; `oplog`,
    the oplog `--oplog` adds, of database ""."""
    prelude = [
        ARCHIVE_MAGIC,
        bson.encode(
            {"concurrent_collections": 4, "version": "0.1", "server_version": "7.0.0", "tool_version": "100.9.0"}
        ),
    ]
    segments = {}
    for db, folder in folders.items():
        for path in sorted(folder.glob("*.bson")):
            docs = documents(path.read_bytes())
            name = unquote_plus(path.stem)  # a file's name is escaped, an archive's namespace is not
            segments[db, name] = [docs[i : i + per_segment] for i in range(0, len(docs), per_segment)]
            metadata = folder / f"{path.stem}.metadata.json"
            prelude.append(
                bson.encode(
                    {
                        "db": db,
                        "collection": name,
                        "size": sum(map(len, docs)),
                        "metadata": metadata.read_text() if metadata.exists() else "{}",
                    }
                )
            )
        for name in extra_namespaces:
            segments[db, name] = []
            prelude.append(bson.encode({"db": db, "collection": name, "metadata": "{}", "size": 0}))
        for name in timeseries:
            options = '{"options": {"timeseries": {"timeField": "t"}}, "indexes": [], "type": "timeseries"}'
            entry = {"db": db, "collection": name, "metadata": options, "size": 0, "type": "timeseries"}
            prelude.append(bson.encode(entry))
            bucket = bson.encode({"_id": bson.ObjectId(), "control": {"version": 1}})
            segments[db, f"system.buckets.{name}"] = [[bucket]]
        for name in views:
            view = '{"options": {"viewOn": "Users", "pipeline": []}, "type": "view"}'
            prelude.append(bson.encode({"db": db, "collection": name, "metadata": view, "size": 0}))
    if oplog:
        segments["", "oplog"] = [[bson.encode({"ts": bson.Timestamp(1, 1), "op": "n", "o": {}})]]
        prelude.append(bson.encode({"db": "", "collection": "oplog", "metadata": "", "size": 0, "type": ""}))
    body = [*prelude, TERMINATOR]
    for round_ in zip_longest(*[[(ns, s) for s in runs] for ns, runs in segments.items()]):
        for ns, segment in filter(None, round_):
            header = bson.encode({"db": ns[0], "collection": ns[1], "EOF": False, "CRC": Int64(0)})
            body += [header, *segment, TERMINATOR]
    for db, name in segments:
        body += [bson.encode({"db": db, "collection": name, "EOF": True, "CRC": Int64(0)}), TERMINATOR]
    data = b"".join(body)
    target.write_bytes(gzip.compress(data) if gzipped else data)
    return target

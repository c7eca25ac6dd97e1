"""Which parts of the previous extract a live server vouches for, by the app's updatedAt.

A catch-up from a server that trusts the app's @updatedAt fields (Prisma sets them on every
write, creation included) keeps a part staged earlier without reading its documents when the
server holds exactly as many `_id`s in the part's range as it staged, and none of them was
written since the previous extract began (less a margin for the app servers' clocks). Asking
costs one read of every document's `_id` and those fields; a document written by anything that
does not set them is not seen, which is why it is the operator's choice (`--trust-updated-at`)
and `m2pg verify` reads every document regardless.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import polars as pl
from bson import ObjectId
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS

from toolkit.documents.index import decoded, document_id
from toolkit.sources.id_order import id_from_json

CLOCK_MARGIN = timedelta(hours=1)  # how far an app server's clock may run behind this machine's
_MILLISECONDS: CodecOptions = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)  # any year
UNDECODED = "$m2pg_undecoded"  # what a document pymongo cannot decode holds in place of its dates


def stamps(batches, fields: tuple[str, ...], since_ms: int) -> tuple[pl.Series, pl.Series] | None:
    """From raw batches of documents holding `_id` and `fields`: every ObjectId, and those of the
    documents written after `since_ms` (epoch milliseconds), as hex text (which sorts as the ids
    do); None when an `_id` is not an ObjectId, since such ids sort in brackets a range of
    ObjectIds misses. A document holding no date in `fields` was not written by the app since
    they were declared: its client sets them on every create and update. One holding a value
    there that is neither a date nor null (a string, a number) was written by something else, at
    a time it does not tell: it counts as written since."""
    ids, written = [], []
    for batch in batches:
        for document in _decoded(batch):
            key = document.get("_id")
            if not isinstance(key, ObjectId):
                return None
            ids.append(str(key))
            values = [v for v in map(document.get, (*fields, UNDECODED)) if v is not None]
            if any(int(v) > since_ms if isinstance(v, DatetimeMS) else True for v in values):
                written.append(str(key))
    return pl.Series(ids, dtype=pl.String).sort(), pl.Series(written, dtype=pl.String).sort()


def _decoded(batch: bytes) -> Iterator[dict]:
    """The batch's documents; one pymongo cannot decode (invalid UTF-8 in a string a real MongoDB
    stored, which the transform quarantines) holds its `_id` alone and a value that is no date,
    so it counts as written since and its part is read again."""
    for raw, document, _ in decoded(batch, _MILLISECONDS):
        yield {"_id": document_id(bytes(raw)), UNDECODED: UNDECODED} if document is None else document


def last_ids(parts: list[dict]) -> pl.Series | None:
    """Each staged part's last `_id` as hex, or None when one is not an ObjectId."""
    ids = [id_from_json(p["last_id"]) for p in parts]
    if not all(isinstance(i, ObjectId) for i in ids):
        return None
    return pl.Series([str(i) for i in ids], dtype=pl.String)


def kept(bounds: pl.Series, rows: list[int], ids: pl.Series, written: pl.Series) -> list[bool]:
    """For each earlier part (its last `_id` in `bounds`, `rows` staged): whether the server's
    sorted `ids` hold as many in its range (after the previous part's last, up to its own) and
    none of `written` falls in it."""
    ends = ids.search_sorted(bounds, side="right").to_numpy()
    counts = np.diff(ends, prepend=0)
    touched = np.diff(written.sort().search_sorted(bounds, side="right").to_numpy(), prepend=0)
    return ((counts == np.asarray(rows)) & (touched == 0)).tolist()

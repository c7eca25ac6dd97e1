"""A pytest plugin for `just mutate` only (pyproject's [tool.mutmut] passes `-p tests.mutation.warm`):
loads the compiled BSON walks once, in mutmut's fork server, so that each mutant's process,
forked from it, does not spend a second loading them again before its first test.

Only numba and numpy run here: polars' thread pool, once started, does not survive a fork.
Each walk is called as toolkit.documents.index calls it, on one small document, so the same
compiled version is the one loaded.
"""

import bson
import numpy as np

from toolkit.documents import index as bt


def _load_walks() -> None:
    buffer = bson.encode({"_id": bson.ObjectId("6b064c82833346aaba78a43f"), "a": "é", "b": [1, 2.5], "c": {"d": None}})
    data = np.frombuffer(buffer, dtype=np.uint8)
    starts, ends = bt.document_bounds(buffer)
    bt.whole_length(buffer)
    bt.untrusted_length(buffer)
    bt.in_id_order(buffer)
    codes, at, numbers = bt.defects(buffer, starts, ends)
    walk = bt._walk()
    walk.count_elements(data, starts, ends, bt._FIXED)
    count = int(numbers.sum())
    doc, key_begin, key_end = np.empty(count, np.uint32), np.empty(count, np.int64), np.empty(count, np.int64)
    kind, value = np.empty(count, np.uint8), np.empty(count, np.int64)
    walk.fill_elements(data, starts, ends, bt._FIXED, doc, key_begin, key_end, kind, value)
    names, offsets, slots = bt._key_table(("a",))
    walk.match_keys(data, doc, key_begin, key_end, names, offsets, slots)
    bt.values_as_documents(buffer, np.zeros(0, np.uint8), np.zeros(0, np.int64))
    bt.scatter(np.zeros(0, np.uint8), np.zeros(0, np.int64), data, np.zeros(0, np.int64), np.zeros(0, np.int64))
    bt.join_rows(
        np.zeros(0, np.uint8), np.zeros(0, np.int64), data, np.zeros((0, 1), np.int64), np.zeros((0, 1), np.int64)
    )


def pytest_configure(config) -> None:
    _load_walks()

"""The byte walks behind bson_index, compiled by numba: one pass over the bytes, no Python
step per document or element. Imported on first use, so commands that never read BSON do not
pay for loading numba."""
from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.bson_index import (ARRAY, BINARY, CODE, CODE_W_SCOPE, DBPOINTER, DOCUMENT, REGEX, STRING,
                                SYMBOL)


@njit(cache=True, nogil=True)
def int32(data, at):
    value = np.int64(data[at]) | np.int64(data[at + 1]) << 8 | np.int64(data[at + 2]) << 16 | np.int64(data[at + 3]) << 24
    return value - (1 << 32) if value >= (1 << 31) else value


@njit(cache=True, nogil=True)
def bounds(data):
    """Starts and ends of the leading whole documents, and the byte where they stop."""
    count, position = 0, 0
    while position + 5 <= len(data):
        length = int32(data, position)
        if length < 5 or position + length > len(data):
            break
        count += 1
        position += length
    starts, ends = np.empty(count, np.int64), np.empty(count, np.int64)
    position = 0
    for i in range(count):
        starts[i] = position
        position += int32(data, position)
        ends[i] = position
    return starts, ends, position


@njit(cache=True, nogil=True)
def string_end(data, at, end):
    while at < end and data[at] != 0:
        at += 1
    return at


@njit(cache=True, nogil=True)
def value_size(data, kind, value, end, fixed):
    """Bytes taken by a value of this BSON type at `value`; -1 if unknown or past `end`."""
    if kind in (STRING, CODE, SYMBOL, BINARY, DBPOINTER, DOCUMENT, ARRAY, CODE_W_SCOPE):
        if value + 4 > end:
            return -1
        length = int32(data, value)
        if kind == BINARY:
            return 5 + length
        if kind == DBPOINTER:
            return 16 + length
        return 4 + length if kind in (STRING, CODE, SYMBOL) else length
    if kind == REGEX:
        pattern_end = string_end(data, value, end)
        options_end = string_end(data, pattern_end + 1, end)
        return options_end + 1 - value if options_end < end else -1
    return fixed[kind]


@njit(cache=True, nogil=True)
def count_elements(data, starts, ends, fixed):
    """How many top-level elements there are, and the first malformed document (-1: none)."""
    count = 0
    for doc in range(len(starts)):
        cursor, end = starts[doc] + 4, ends[doc]
        while cursor < end and data[cursor] != 0:
            key_end = string_end(data, cursor + 1, end)
            size = value_size(data, data[cursor], key_end + 1, end, fixed) if key_end < end else -1
            if size < 0 or key_end + 1 + size > end:
                return count, doc
            count += 1
            cursor = key_end + 1 + size
    return count, -1


@njit(cache=True, nogil=True)
def fill_elements(data, starts, ends, fixed, doc, key_begin, key_end, kind, value):
    """Write each element's document, key range, type and value offset (checked by the count)."""
    at = 0
    for d in range(len(starts)):
        cursor, end = starts[d] + 4, ends[d]
        while cursor < end and data[cursor] != 0:
            stop = string_end(data, cursor + 1, end)
            doc[at], key_begin[at], key_end[at], kind[at], value[at] = d, cursor + 1, stop, data[cursor], stop + 1
            cursor = stop + 1 + value_size(data, data[cursor], stop + 1, end, fixed)
            at += 1


@njit(cache=True, nogil=True)
def scatter(out, at, data, starts, sizes):
    for i in range(len(at)):
        out[at[i]:at[i] + sizes[i]] = data[starts[i]:starts[i] + sizes[i]]


@njit(cache=True, nogil=True)
def wrap_values(data, kinds, offsets, fixed):
    sizes = np.empty(len(kinds), np.int64)
    for i in range(len(kinds)):
        sizes[i] = value_size(data, kinds[i], offsets[i], len(data), fixed)
    out = np.empty(np.sum(sizes) + 8 * len(kinds), np.uint8)
    at = 0
    for i in range(len(kinds)):
        length = sizes[i] + 8  # int32 length, type, "v\0", value, terminating 0
        out[at:at + 4] = np.array([length & 0xFF, length >> 8 & 0xFF, length >> 16 & 0xFF, length >> 24 & 0xFF], np.uint8)
        out[at + 4], out[at + 5], out[at + 6] = kinds[i], 118, 0
        out[at + 7:at + 7 + sizes[i]] = data[offsets[i]:offsets[i] + sizes[i]]
        out[at + length - 1] = 0
        at += length
    return out


@njit(cache=True, nogil=True)
def ascending_object_ids(data, high, low):
    """Starts and ends of every document; whether they are in `_id` order, each document whole
    with an ObjectId `_id` as its first element and none below the one before (equal ids keep
    file order, as a stable sort would), starting from the id (high, low); and the last id."""
    starts, ends, stop = bounds(data)
    if stop != len(data):
        return starts, ends, False, high, low
    for i in range(len(starts)):
        at = starts[i]
        if ends[i] - at < 21 or data[at + 4] != 7 or data[at + 5] != 95 or data[at + 6] != 105 \
                or data[at + 7] != 100 or data[at + 8] != 0:  # type 7, key "_id"
            return starts, ends, False, high, low
        seconds, tail = np.uint64(0), np.uint64(0)
        for k in range(4):
            seconds = seconds << np.uint64(8) | np.uint64(data[at + 9 + k])
        for k in range(8):
            tail = tail << np.uint64(8) | np.uint64(data[at + 13 + k])
        if seconds < high or (seconds == high and tail < low):
            return starts, ends, False, high, low
        high, low = seconds, tail
    return starts, ends, True, high, low


@njit(cache=True, nogil=True)
def key_hash(data, begin, end):
    """FNV-1a of the bytes data[begin:end]."""
    value = np.uint32(2166136261)
    for i in range(begin, end):
        value = (value ^ np.uint32(data[i])) * np.uint32(16777619)
    return value


@njit(cache=True, nogil=True)
def match_keys(data, doc, key_begin, key_end, names, name_offsets, slots):
    """Each element's position among the known key names (-1: none), found through the hash
    table `slots`, and whether it is the first element of that key in its document."""
    field = np.full(len(doc), -1, np.int16)
    first = np.ones(len(doc), np.bool_)
    last_doc = np.full(len(name_offsets), -1, np.int64)
    mask = len(slots) - 1
    for e in range(len(doc)):
        slot = key_hash(data, key_begin[e], key_end[e]) & mask
        length = key_end[e] - key_begin[e]
        while slots[slot] >= 0:
            k = slots[slot]
            if name_offsets[k + 1] - name_offsets[k] == length:
                same = True
                for i in range(length):
                    if names[name_offsets[k] + i] != data[key_begin[e] + i]:
                        same = False
                        break
                if same:
                    field[e] = k
                    first[e] = last_doc[k] != doc[e]
                    last_doc[k] = doc[e]
                    break
            slot = (slot + 1) & mask
    return field, first

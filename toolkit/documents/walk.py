"""The byte walks behind bson_index, compiled by numba: one pass over the bytes, no Python
step per document or element. Imported on first use, so commands that never read BSON do not
pay for loading numba."""

from __future__ import annotations

import numpy as np
from numba import njit

from toolkit.documents.index import (
    ARRAY,
    BAD_BINARY,
    BAD_BOOL,
    BAD_DOCUMENT_LENGTH,
    BAD_STRING,
    BAD_TYPE,
    BAD_UTF8,
    BINARY,
    BOOL,
    CODE,
    CODE_W_SCOPE,
    DBPOINTER,
    DOCUMENT,
    ELEMENTS_END_EARLY,
    KEY_WITHOUT_END,
    LENGTH_PAST_END,
    LENGTH_TOO_SMALL,
    MAX_DEPTH,
    PAST_END,
    REGEX,
    STRING,
    SYMBOL,
    TOO_DEEP,
    WELL_FORMED,
)


@njit(cache=True, nogil=True)
def int32(data, at):
    value = (
        np.int64(data[at]) | np.int64(data[at + 1]) << 8 | np.int64(data[at + 2]) << 16 | np.int64(data[at + 3]) << 24
    )
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
def next_element(data, cursor, end, fixed):
    """Where the element at `cursor` ends, or -1 when it does not fit before `end`."""
    key_end = string_end(data, cursor + 1, end)
    size = value_size(data, data[cursor], key_end + 1, end, fixed) if key_end < end else -1
    return -1 if size < 0 or key_end + 1 + size > end else key_end + 1 + size


@njit(cache=True, nogil=True)
def count_elements(data, starts, ends, fixed):
    """How many top-level elements lie wholly between each document's start and end."""
    count = 0
    for doc in range(len(starts)):
        cursor, end = starts[doc] + 4, ends[doc]
        while cursor < end and data[cursor] != 0:
            key_end = string_end(data, cursor + 1, end)
            size = value_size(data, data[cursor], key_end + 1, end, fixed) if key_end < end else -1
            if size < 0 or key_end + 1 + size > end:
                break
            count += 1
            cursor = key_end + 1 + size
    return count


@njit(cache=True, nogil=True)
def fill_elements(data, starts, ends, fixed, doc, key_begin, key_end, kind, value):
    """Write each element's document, key range, type and value offset (those the count saw)."""
    at = 0
    for d in range(len(starts)):
        cursor, end = starts[d] + 4, ends[d]
        while cursor < end and data[cursor] != 0:
            stop = string_end(data, cursor + 1, end)
            size = value_size(data, data[cursor], stop + 1, end, fixed) if stop < end else -1
            if size < 0 or stop + 1 + size > end:
                break
            doc[at], key_begin[at], key_end[at], kind[at], value[at] = d, cursor + 1, stop, data[cursor], stop + 1
            cursor = stop + 1 + size
            at += 1


@njit(cache=True, nogil=True)
def key_bounds(data, at, end):
    """Where the 0 ending the key at `at` lies (`end` if none before it), and whether the key
    holds a byte above 0x7F: only then is its UTF-8 checked (keys are mostly ASCII)."""
    bits = np.uint8(0)
    while at < end and data[at] != 0:
        bits |= data[at]
        at += 1
    return at, bits >= 0x80


@njit(cache=True, nogil=True)
def ascii_only(data, at, end):
    """Whether data[at:end] is all ASCII: one branch-free pass the compiler can vectorise."""
    bits = np.uint8(0)
    for i in range(at, end):
        bits |= data[i]
    return bits < 0x80


@njit(cache=True, nogil=True)
def utf8_error(data, at, end):
    """The first byte of data[at:end] that is not part of well-formed UTF-8 (Python's and
    PostgreSQL's definition: no overlong forms, no surrogates, nothing above U+10FFFF); -1: none."""
    while at < end:
        lead = data[at]
        if lead < 0x80:
            at += 1
            continue
        low, high = 0x80, 0xBF
        if 0xC2 <= lead <= 0xDF:
            need = 1
        elif 0xE0 <= lead <= 0xEF:
            need = 2
            if lead == 0xE0:
                low = 0xA0
            elif lead == 0xED:
                high = 0x9F
        elif 0xF0 <= lead <= 0xF4:
            need = 3
            if lead == 0xF0:
                low = 0x90
            elif lead == 0xF4:
                high = 0x8F
        else:
            return at
        if at + need >= end:
            return at
        if not low <= data[at + 1] <= high:
            return at
        for k in range(2, need + 1):
            if not 0x80 <= data[at + k] <= 0xBF:
                return at
        at += need + 1
    return -1


@njit(cache=True, nogil=True)
def string_defect(data, value, room):
    """Check the length-prefixed string at `value`, with `room` bytes left before its
    document's terminator: (WELL_FORMED, its size in bytes), or (defect, the byte at fault)."""
    if room < 5:
        return PAST_END, value
    length = int32(data, value)
    if length < 1 or 4 + length > room or data[value + 3 + length] != 0:
        return BAD_STRING, value
    bad = -1 if ascii_only(data, value + 4, value + 3 + length) else utf8_error(data, value + 4, value + 3 + length)
    if bad >= 0:
        return BAD_UTF8, bad
    return WELL_FORMED, 4 + length


@njit(cache=True, nogil=True)
def check_document(data, start, end, fixed, stack):
    """(defect code, byte where it is, a number the reason quotes) for the document spanning
    data[start:end]; (WELL_FORMED, end, its count of top-level elements) when every element,
    length, terminator, string and key is well formed and nesting stays within MAX_DEPTH.
    Iterative: depth costs no recursion."""
    if end - start < 5:
        return LENGTH_PAST_END, start, -1  # too few bytes for any document
    length = int32(data, start)
    if length < 5:
        return LENGTH_TOO_SMALL, start, length
    if length != end - start:
        return LENGTH_PAST_END, start, length
    depth, cursor, elements = 0, start + 4, 0
    stack[0] = end
    while True:
        doc_end = stack[depth]
        kind = np.int64(data[cursor])
        if kind == 0:
            if cursor != doc_end - 1:
                return ELEMENTS_END_EARLY, cursor, doc_end - cursor - 1
            if depth == 0:
                return WELL_FORMED, end, elements
            depth -= 1
            cursor = doc_end
            continue
        if cursor == doc_end - 1:  # the last byte is no terminator
            return ELEMENTS_END_EARLY, cursor, -1
        if depth == 0:
            elements += 1
        key_end, high = key_bounds(data, cursor + 1, doc_end - 1)
        if key_end >= doc_end - 1:
            return KEY_WITHOUT_END, cursor, kind
        if high:
            bad = utf8_error(data, cursor + 1, key_end)
            if bad >= 0:
                return BAD_UTF8, bad, 0
        value = key_end + 1
        room = doc_end - 1 - value  # bytes the value may take before the terminator
        if fixed[kind] >= 0:
            size = fixed[kind]
            if size > room:
                return PAST_END, cursor, kind
            if kind == BOOL and data[value] > 1:
                return BAD_BOOL, value, np.int64(data[value])
        elif kind == STRING or kind == CODE or kind == SYMBOL or kind == DBPOINTER:
            code, size = string_defect(data, value, room)
            if code != WELL_FORMED:
                return code, size, kind
            if kind == DBPOINTER:
                size += 12
                if size > room:
                    return PAST_END, cursor, kind
        elif kind == DOCUMENT or kind == ARRAY:
            if room < 5:
                return PAST_END, cursor, kind
            size = int32(data, value)
            if size < 5 or size > room:
                return BAD_DOCUMENT_LENGTH, value, size
            if depth == MAX_DEPTH:
                return TOO_DEEP, value, MAX_DEPTH
            depth += 1
            stack[depth] = value + size
            cursor = value + 4
            continue
        elif kind == BINARY:
            if room < 5:
                return PAST_END, cursor, kind
            size = int32(data, value)
            old = data[value + 4] == 2  # the old binary subtype repeats its length inside
            if size < 0 or 5 + size > room or (old and (size < 4 or int32(data, value + 5) != size - 4)):
                return BAD_BINARY, value, size
            size += 5
        elif kind == REGEX:
            pattern_end = string_end(data, value, doc_end - 1)
            options_end = string_end(data, pattern_end + 1, doc_end - 1)
            if options_end >= doc_end - 1:
                return PAST_END, cursor, kind
            bad = utf8_error(data, value, options_end)
            if bad >= 0:
                return BAD_UTF8, bad, 0
            size = options_end + 1 - value
        elif kind == CODE_W_SCOPE:
            if room < 14:
                return PAST_END, cursor, kind
            size = int32(data, value)
            code, text = string_defect(data, value + 4, min(size, room) - 4)
            if code != WELL_FORMED:
                return code, text, kind
            scope = value + 4 + text
            if size > room or scope + 5 > value + size or int32(data, scope) != value + size - scope:
                return BAD_DOCUMENT_LENGTH, value, size
            if depth == MAX_DEPTH:
                return TOO_DEEP, value, MAX_DEPTH
            depth += 1
            stack[depth] = value + size
            cursor = scope + 4
            continue
        else:
            return BAD_TYPE, cursor, kind
        cursor = value + size


@njit(cache=True, nogil=True)
def check_documents(data, starts, ends, fixed):
    """check_document for every document: defect codes, bytes and numbers, one per document."""
    codes = np.empty(len(starts), np.uint8)
    at, numbers = np.empty(len(starts), np.int64), np.empty(len(starts), np.int64)
    stack = np.empty(MAX_DEPTH + 1, np.int64)
    for i in range(len(starts)):
        codes[i], at[i], numbers[i] = check_document(data, starts[i], ends[i], fixed, stack)
    return codes, at, numbers


@njit(cache=True, nogil=True)
def scatter(out, at, data, starts, sizes):
    for i in range(len(at)):
        out[at[i] : at[i] + sizes[i]] = data[starts[i] : starts[i] + sizes[i]]


@njit(cache=True, nogil=True)
def join_rows(out, at, data, starts, sizes):
    for i in range(sizes.shape[0]):
        position = at[i]
        for piece in range(sizes.shape[1]):
            size = sizes[i, piece]
            if size:  # many pieces are empty: an absent key, a null's value
                out[position : position + size] = data[starts[i, piece] : starts[i, piece] + size]
                position += size


@njit(cache=True, nogil=True)
def wrap_values(data, kinds, offsets, fixed):
    sizes = np.empty(len(kinds), np.int64)
    for i in range(len(kinds)):
        sizes[i] = value_size(data, kinds[i], offsets[i], len(data), fixed)
    out = np.empty(np.sum(sizes) + 8 * len(kinds), np.uint8)
    at = 0
    for i in range(len(kinds)):
        length = sizes[i] + 8  # int32 length, type, "v\0", value, terminating 0
        out[at : at + 4] = np.array(
            [length & 0xFF, length >> 8 & 0xFF, length >> 16 & 0xFF, length >> 24 & 0xFF], np.uint8
        )
        out[at + 4], out[at + 5], out[at + 6] = kinds[i], 118, 0
        out[at + 7 : at + 7 + sizes[i]] = data[offsets[i] : offsets[i] + sizes[i]]
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
        if (
            ends[i] - at < 21
            or data[at + 4] != 7
            or data[at + 5] != 95
            or data[at + 6] != 105
            or data[at + 7] != 100
            or data[at + 8] != 0
        ):  # type 7, key "_id"
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

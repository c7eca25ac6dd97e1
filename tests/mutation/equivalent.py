"""Mutants that survive because they change nothing the code promises, each with the reason.

Keyed by `module.function: line as written -> line as mutated` (as the report prints them), so
an entry follows the code when lines move and lapses (the report says so) when the code changes.
The keys quote whole lines of code, so they run past the line length.
"""
# ruff: noqa: E501

DEAD = (
    "unreachable: a model's rules always include the `_id` rule, "
    "and with no rules the function fails further on (`concat_list` of nothing)"
)
REGEX = "a NUL is no regex metacharacter: as a pattern it matches exactly the NUL, as the literal does"
SQL_CASE = "SQL keywords and DuckDB's function names are read in any case"
BINARY = "polars gives a bytes literal the Binary type of itself"
BY_POSITION = "the two counts are read by position, not by name (and the names stay distinct)"
TWO_COLUMNS = (
    "reads every column of the raw part instead of the one or two used: the same values, more memory, "
    "which no unit test measures"
)
LEFT_ORDER = (
    "polars 2.1 keeps the left frame's order in a left join anyway (tried with 200,000 rows against "
    "50,000 and 1,000 against 400,000): the option makes it a guarantee, no test can see it go"
)
FALSY = "None is false, as False is: the same conversion"
ALL_NULL = "a series of nulls only: is_not_null, filter and gather read no type from it"
NULL_FILL = "zip_with takes the null of either type as the positions' UInt32"
EMPTY_LIST = "the empty list takes the column's List(String) type when it fills the nulls, and clean_rows casts to it"
STRING_FILL = "zip_with takes the null of either type as the values' String"
AT_ZERO = (
    "polars hands over the rechunked column as a new array and both casts make new arrays: the "
    "offset is 0 whenever this runs (a slice of the series included, as the tests pass one)"
)
INFERRED_STRING = (
    "the ids are str, of which polars infers String; an empty series is then of type Null, which "
    "search_sorted and sort treat as the empty String one (nothing before any bound)"
)
SORTED_UNIQUE = (
    "the series was just sorted, which polars records, and unique on a sorted series keeps its "
    "runs in order either way (tried with 100,000 keys); the option makes it a guarantee"
)
ONE_FEED = "one feed's pairs are already sorted and distinct: sorting them and dropping repeats again changes nothing"
EMPTY_STRINGS = "no values and no list make the same empty String series"
NO_PARTS = "only when there is no raw part, and then the loop that reads it does not run"

EQUIVALENT: dict[str, str] = {
    'verify._is_int: isinstance(value, float) and value == value and abs(value) != float("inf") -> isinstance(value, float) and value == value and abs(value) != float("INF")': "float() reads its text case-insensitively: the same infinity",
    'verify.as_text: return json.dumps(value, ensure_ascii=False, separators=(",", ":")) -> '
    'return json.dumps(value, ensure_ascii=None, separators=(",", ":"))': "None is false, as False is: no escaping either way",
    'verify.as_text: return json.dumps(value, ensure_ascii=False, separators=(",", ":")) -> '
    'return json.dumps(value, ensure_ascii=False, separators=(",", "XX:XX"))': "the key separator: list columns hold strings, UUIDs and nulls, never an object with keys",
    "ids.uuid_binary: pa.binary(16), len(texts), [_validity(texts), pa.py_buffer(raw.tobytes())], texts.null_count -> pa.binary(16), len(texts), [_validity(texts), pa.py_buffer(raw.tobytes())], )": "without the count Arrow counts the nulls from the validity bitmap: the same array",
    "ids.uuid_for: seconds, tail = value >> 64, value & ((1 << 64) - 1) -> "
    "seconds, tail = value >> 64, value & ((2 << 64) - 1)": "the extra bit (the seconds' lowest) reaches `high` as bit 12, which the version 7 (0x7000) already sets",
    "ids.uuid_for: seconds, tail = value >> 64, value & ((1 << 64) - 1) -> "
    "seconds, tail = value >> 64, value & ((1 << 65) - 1)": "the same 65-bit mask as above: bit 12 of `high` is already set by the version",
    "ids.object_id_of: tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 62) - 1)) >> 10) -> "
    "tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((2 << 62) - 1)) >> 10)": "the wider mask adds bit 62, the variant's low bit, which is 0 in every UUID this module makes",
    "ids.object_id_of: tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 62) - 1)) >> 10) -> "
    "tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 63) - 1)) >> 10)": "as above: bit 62 is 0 in every UUID this module makes",
    "ids.object_id_of: tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 62) - 1)) >> 10) -> "
    "tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 62) - 2)) >> 10)": "clears bit 0, one of the 10 padding bits that `>> 10` drops anyway",
    "ids.in_lists: pa.array(offsets - offsets[0], pa.int64()), convert(values), mask=lists.is_null() -> pa.array(offsets - offsets[0], None), convert(values), mask=lists.is_null()": "Arrow widens int32 offsets to the large list's int64 itself",
    "ids.in_lists: pa.array(offsets - offsets[0], pa.int64()), convert(values), mask=lists.is_null() -> pa.array(offsets - offsets[0], ), convert(values), mask=lists.is_null()": "Arrow widens int32 offsets to the large list's int64 itself",
    "rules.problems_of: pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, frame.height) -> pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(None, frame.height)": DEAD,
    "rules.problems_of: pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, frame.height) -> pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, None)": DEAD,
    "rules.problems_of: pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, frame.height) -> pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(frame.height)": DEAD,
    "rules.problems_of: pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, frame.height) -> pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, )": DEAD,
    "rules.problems_of: pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, frame.height) -> pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(True, frame.height)": DEAD,
    "rules.problems_of: pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, frame.height) -> pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if (rules) or True else pl.repeat(False, frame.height)": DEAD,
    "rules.problems_of: pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, frame.height) -> pl.any_horizontal([r.broken.fill_null(True) for r in rules]) if rules else pl.repeat(False, frame.height)": "a row whose condition is null is then looked at, but `when` drops its null problem and it gets the same empty list: time only",
    "verify._canonical: return json.dumps(value, ensure_ascii=False) -> return json.dumps(value, ensure_ascii=None)": "None is false, as False is: no escaping either way",
    'verify._canonical: + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_canonical(v)}" for k, v in sorted(value.items())) -> + ",".join(f"{json.dumps(k, ensure_ascii=None)}:{_canonical(v)}" for k, v in sorted(value.items()))': "None is false, as False is: no escaping either way",
    'rules._checks: value.str.contains("\\x00", literal=True), -> value.str.contains("\\x00", literal=None),': REGEX,
    'rules._checks: value.str.contains("\\x00", literal=True), -> value.str.contains("\\x00", ),': REGEX,
    'rules._checks: value.str.contains("\\x00", literal=True), -> value.str.contains("\\x00", literal=False),': REGEX,
    'rules._checks: nul = value.list.eval(pl.element().str.contains("\\x00", literal=True)).list.any() -> nul = value.list.eval(pl.element().str.contains("\\x00", literal=None)).list.any()': REGEX,
    'rules._checks: nul = value.list.eval(pl.element().str.contains("\\x00", literal=True)).list.any() -> nul = value.list.eval(pl.element().str.contains("\\x00", )).list.any()': REGEX,
    'rules._checks: nul = value.list.eval(pl.element().str.contains("\\x00", literal=True)).list.any() -> nul = value.list.eval(pl.element().str.contains("\\x00", literal=False)).list.any()': REGEX,
    'reconcile.migration_rows: where = " AND ".join(f"t.{quote(column)} IN {ids}" for column, ids in ends.items()) -> where = " and ".join(f"t.{quote(column)} IN {ids}" for column, ids in ends.items())': SQL_CASE,
    'sources.resume_index: & ((pl.col("number") < number) | ((pl.col("number") == number) & (pl.col("key") < pl.lit(raw, pl.Binary)))) -> & ((pl.col("number") < number) | ((pl.col("number") == number) & (pl.col("key") < pl.lit(raw, None))))': BINARY,
    'sources.resume_index: & ((pl.col("number") < number) | ((pl.col("number") == number) & (pl.col("key") < pl.lit(raw, pl.Binary)))) -> & ((pl.col("number") < number) | ((pl.col("number") == number) & (pl.col("key") < pl.lit(raw, ))))': BINARY,
    'sources.resume_index: same = (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(raw, pl.Binary)) -> same = (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(raw, None))': BINARY,
    'sources.resume_index: same = (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(raw, pl.Binary)) -> same = (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(raw, ))': BINARY,
    'sources.resume_index: counts = keys.select(before.sum().alias("before"), same.sum().alias("same")).row(0) -> counts = keys.select(before.sum().alias("before"), same.sum().alias("same")).row(None)': "the frame of two sums has one row, which row() without an index returns",
    'sources.resume_index: counts = keys.select(before.sum().alias("before"), same.sum().alias("same")).row(0) -> counts = keys.select(before.sum().alias("XXbeforeXX"), same.sum().alias("same")).row(0)': BY_POSITION,
    'sources.resume_index: counts = keys.select(before.sum().alias("before"), same.sum().alias("same")).row(0) -> counts = keys.select(before.sum().alias("BEFORE"), same.sum().alias("same")).row(0)': BY_POSITION,
    'sources.resume_index: counts = keys.select(before.sum().alias("before"), same.sum().alias("same")).row(0) -> counts = keys.select(before.sum().alias("before"), same.sum().alias("XXsameXX")).row(0)': BY_POSITION,
    'sources.resume_index: counts = keys.select(before.sum().alias("before"), same.sum().alias("same")).row(0) -> counts = keys.select(before.sum().alias("before"), same.sum().alias("SAME")).row(0)': BY_POSITION,
    "sources.resume_point: rank, number, key = keys.row(-1)[2:5] -> rank, number, key = keys.row(-1)[2:6]": "a row of the sort keys has five columns: the slice ends at the fifth either way",
    'sources.resume_point: (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(key, pl.Binary)) -> (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(key, None))': BINARY,
    'sources.resume_point: (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(key, pl.Binary)) -> (pl.col("rank") == rank) & (pl.col("number") == number) & (pl.col("key") == pl.lit(key, ))': BINARY,
    "sources.resume_point: take = min(len(starts), 16) -> take = min(len(starts), 17)": "the first window of documents looked at: a wider one reads one more key, the result is the same",
    'transform.feed_pairs: pl.read_parquet(paths, columns=["m2pg_object_id"])["m2pg_object_id"] -> pl.read_parquet(paths, columns=None)["m2pg_object_id"]': TWO_COLUMNS,
    'transform.feed_pairs: pl.read_parquet(paths, columns=["m2pg_object_id"])["m2pg_object_id"] -> pl.read_parquet(paths, )["m2pg_object_id"]': TWO_COLUMNS,
    "transform.feed_pairs: else pl.Series([], dtype=pl.String) -> else pl.Series(None, dtype=pl.String)": NO_PARTS,
    "transform.feed_pairs: else pl.Series([], dtype=pl.String) -> else pl.Series([], dtype=None)": NO_PARTS,
    "transform.feed_pairs: else pl.Series([], dtype=pl.String) -> else pl.Series(dtype=pl.String)": NO_PARTS,
    "transform.feed_pairs: else pl.Series([], dtype=pl.String) -> else pl.Series([], )": NO_PARTS,
    "transform.feed_pairs: repeated, claimed = extracted.filter(extracted.is_duplicated()).unique().implode(), pl.Series([], dtype=pl.String) -> repeated, claimed = extracted.filter(extracted.is_duplicated()).unique().implode(), pl.Series(None, dtype=pl.String)": "an empty String series either way",
    "transform.feed_pairs: repeated, claimed = extracted.filter(extracted.is_duplicated()).unique().implode(), pl.Series([], dtype=pl.String) -> repeated, claimed = extracted.filter(extracted.is_duplicated()).unique().implode(), pl.Series(dtype=pl.String)": "an empty String series either way",
    'transform.feed_pairs: arrays = pl.read_parquet(path, columns=["m2pg_object_id", key]).drop_nulls("m2pg_object_id") -> arrays = pl.read_parquet(path, columns=None).drop_nulls("m2pg_object_id")': TWO_COLUMNS,
    'transform.feed_pairs: arrays = pl.read_parquet(path, columns=["m2pg_object_id", key]).drop_nulls("m2pg_object_id") -> arrays = pl.read_parquet(path, ).drop_nulls("m2pg_object_id")': TWO_COLUMNS,
    "transform.feed_pairs: claimed = pl.concat([claimed, ids.filter(twice & keep)]) -> claimed = pl.concat([claimed, ids.filter(twice | keep)])": "`claimed` is consulted only for an owner whose `_id` repeats: adding the others to it changes no decision",
    'transform.feed_pairs: yield exploded.drop_nulls("other"), int(lost), int(nulls) -> yield exploded.drop_nulls(None), int(lost), int(nulls)': "the only other column, the owner's place among the kept, has no nulls: they were dropped on reading",
    "transform.junction_places: places = pl.concat(pairs).unique(maintain_order=True).sort(j.left.column, j.right.column) -> places = pl.concat(pairs).unique(maintain_order=False).sort(j.left.column, j.right.column)": "the distinct pairs are sorted by both columns right after: one order whatever order unique() left",
    'transform._position: at = known.search_sorted(values, side="left").clip(0, known.len() - 1) -> at = known.search_sorted(values, ).clip(0, known.len() - 1)': "any position of an equal value holds an equal value: the same answer, and `kept` holds each ObjectId once",
    'transform._position: at = known.search_sorted(values, side="left").clip(0, known.len() - 1) -> at = known.search_sorted(values, side="left").clip(None, known.len() - 1)': "search_sorted never gives a negative position: there is nothing to clip below",
    "transform._position: return pl.Series([None] * values.len(), dtype=pl.UInt32) -> return pl.Series([None] * values.len(), dtype=None)": ALL_NULL,
    "transform._position: return pl.Series([None] * values.len(), dtype=pl.UInt32) -> return pl.Series([None] * values.len(), )": ALL_NULL,
    "transform._position: return at.zip_with((known.gather(at) == values).fill_null(False), pl.Series([None], dtype=at.dtype)) -> return at.zip_with((known.gather(at) == values).fill_null(False), pl.Series([None], dtype=None))": NULL_FILL,
    "transform._position: return at.zip_with((known.gather(at) == values).fill_null(False), pl.Series([None], dtype=at.dtype)) -> return at.zip_with((known.gather(at) == values).fill_null(False), pl.Series([None], ))": NULL_FILL,
    "transform._value: return value.fill_null(pl.lit([], dtype=pl.List(pl.String))) -> return value.fill_null(pl.lit([], dtype=None))": EMPTY_LIST,
    "transform._value: return value.fill_null(pl.lit([], dtype=pl.List(pl.String))) -> return value.fill_null(pl.lit([], ))": EMPTY_LIST,
    "sources.resume_point: take = min(len(starts), take * 8) -> take = min(len(starts), take * 9)": "how fast the window of documents looked at grows: a faster growth reads more keys, the result is the same",
    "ids._characters: data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]] if n else np.empty(0, np.uint8) -> data = np.frombuffer(texts.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]] if (n) or True else np.empty(0, np.uint8)": "with no strings the slice of the character bytes is empty as well",
    "ids._characters: texts = pc.fill_null(texts, filler) if texts.null_count else texts -> texts = pc.fill_null(texts, filler) if (texts.null_count) or True else texts": "filling the nulls of an array that has none changes nothing",
    "ids._validity: if texts.null_count -> if (texts.null_count) or True": "a validity bitmap of all ones says what no bitmap says: every value is there",
    'ids._validity: pa.py_buffer(np.packbits(texts.is_valid().to_numpy(zero_copy_only=False), bitorder="little")) -> pa.py_buffer(np.packbits(texts.is_valid().to_numpy(zero_copy_only=None), bitorder="little"))': FALSY,
    "ids.uuid_bytes: oid = np.ascontiguousarray(object_ids, dtype=np.uint8) -> oid = np.ascontiguousarray(object_ids, )": "every caller passes uint8 bytes already",
    "ids.uuid_bytes: oid = np.ascontiguousarray(object_ids, dtype=np.uint8) -> oid = np.ascontiguousarray(object_ids, dtype=None)": "every caller passes uint8 bytes already",
    "ids.uuids_of: texts.null_count, -> )": "without the count Arrow counts the nulls from the validity bitmap: the same array",
    "ids.uuids_of: pa.py_buffer(np.arange(0, 36 * len(uuid) + 1, 36, dtype=np.int64)), -> pa.py_buffer(np.arange(0, 36 * len(uuid) + 1, 36, )),": "NumPy 2 makes integers int64 by default",
    "ids.uuids_of: pa.py_buffer(np.arange(0, 36 * len(uuid) + 1, 36, dtype=np.int64)), -> pa.py_buffer(np.arange(0, 36 * len(uuid) + 1, 36, dtype=None)),": "NumPy 2 makes integers int64 by default",
    "ids.uuids_of: pa.py_buffer(np.arange(0, 36 * len(uuid) + 1, 36, dtype=np.int64)), -> pa.py_buffer(np.arange(0, 36 * len(uuid) + 2, 36, dtype=np.int64)),": "the range then holds extra offsets after the n + 1 that Arrow reads, or none",
    "ids.uuids_of: pa.py_buffer(np.arange(0, 36 * len(uuid) + 1, 36, dtype=np.int64)), -> pa.py_buffer(np.arange(0, 37 * len(uuid) + 1, 36, dtype=np.int64)),": "the range then holds extra offsets after the n + 1 that Arrow reads, or none",
    "ids.uuids_of: return pl.Series(object_ids.name, array, dtype=pl.String) -> return pl.Series(object_ids.name, array, )": "polars reads Arrow large_string as String without being told",
    "ids.uuids_of: return pl.Series(object_ids.name, array, dtype=pl.String) -> return pl.Series(object_ids.name, array, dtype=None)": "polars reads Arrow large_string as String without being told",
    "ids.uuids_of: texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts -> texts = texts.combine_chunks() if (isinstance(texts, pa.ChunkedArray)) and False else texts": "polars hands a series over as one array (to_arrow rechunks): the combining branch is for other callers",
    "rules.per_row: every = pl.DataFrame({key: pl.int_range(n, dtype=pl.UInt32, eager=True)}) -> every = pl.DataFrame({key: pl.int_range(n, eager=True)})": "the join matches the row numbers across integer types",
    'rules.per_row: spread = every.join(found.select(key, column), on=key, how="left", maintain_order="left")[column] -> spread = every.join(found.select(key, column), on=key, how="left", )[column]': LEFT_ORDER,
    'rules.per_row: spread = every.join(found.select(key, column), on=key, how="left", maintain_order="left")[column] -> spread = every.join(found.select(key, column), on=key, how="left", maintain_order=None)[column]': LEFT_ORDER,
    "transform._uuid_lists: array = array.combine_chunks() -> array = None": "polars hands a series over as one array (to_arrow rechunks), even one of several chunks: the branch never runs for it",
    "ids.uuid_array: matrix = np.frombuffer(raw.buffers()[1], dtype=np.uint8)[raw.offset * 12 : (raw.offset + len(raw)) * 12] -> matrix = np.frombuffer(raw.buffers()[1], dtype=np.uint8)[raw.offset * 13 : (raw.offset + len(raw)) * 12]": AT_ZERO,
    "ids.uuid_array: matrix = np.frombuffer(raw.buffers()[1], dtype=np.uint8)[raw.offset * 12 : (raw.offset + len(raw)) * 12] -> matrix = np.frombuffer(raw.buffers()[1], dtype=np.uint8)[raw.offset * 12 : (raw.offset + len(raw)) * 13]": AT_ZERO,
    'transform._reference: kept = values.zip_with(is_among(values, outcome.kept[target]["object_id"]), pl.Series([None], dtype=values.dtype)) -> kept = values.zip_with(is_among(values, outcome.kept[target]["object_id"]), pl.Series([None], dtype=None))': STRING_FILL,
    'transform._reference: kept = values.zip_with(is_among(values, outcome.kept[target]["object_id"]), pl.Series([None], dtype=values.dtype)) -> kept = values.zip_with(is_among(values, outcome.kept[target]["object_id"]), pl.Series([None], ))': STRING_FILL,
    "unchanged.stamps: return pl.Series(ids, dtype=pl.String).sort(), pl.Series(written, dtype=pl.String).sort() -> return pl.Series(ids, dtype=None).sort(), pl.Series(written, dtype=pl.String).sort()": INFERRED_STRING,
    "unchanged.stamps: return pl.Series(ids, dtype=pl.String).sort(), pl.Series(written, dtype=pl.String).sort() -> return pl.Series(ids, dtype=pl.String).sort(), pl.Series(written, dtype=None).sort()": INFERRED_STRING,
    "unchanged.last_ids: return pl.Series([str(i) for i in ids], dtype=pl.String) -> return pl.Series([str(i) for i in ids], dtype=None)": INFERRED_STRING,
    "unchanged.stamps: return pl.Series(ids, dtype=pl.String).sort(), pl.Series(written, dtype=pl.String).sort() -> return pl.Series(ids, ).sort(), pl.Series(written, dtype=pl.String).sort()": INFERRED_STRING,
    "unchanged.stamps: return pl.Series(ids, dtype=pl.String).sort(), pl.Series(written, dtype=pl.String).sort() -> return pl.Series(ids, dtype=pl.String).sort(), pl.Series(written, ).sort()": INFERRED_STRING,
    "unchanged.last_ids: return pl.Series([str(i) for i in ids], dtype=pl.String) -> return pl.Series([str(i) for i in ids], )": INFERRED_STRING,
    "transform.feed_pairs: claimed = pl.Series([], dtype=pl.String) -> claimed = pl.Series(None, dtype=pl.String)": EMPTY_STRINGS,
    "transform.feed_pairs: claimed = pl.Series([], dtype=pl.String) -> claimed = pl.Series(dtype=pl.String)": EMPTY_STRINGS,
    "transform.junction_places: pairs.append(named.unique(maintain_order=True))  # sorted: a distinct value is a run -> pairs.append(named.unique(maintain_order=None))  # sorted: a distinct value is a run": SORTED_UNIQUE,
    "transform.junction_places: pairs.append(named.unique(maintain_order=True))  # sorted: a distinct value is a run -> pairs.append(named.unique(maintain_order=False))  # sorted: a distinct value is a run": SORTED_UNIQUE,
    "transform.junction_places: keys = pl.concat(pairs).sort().unique(maintain_order=True) if len(pairs) > 1 else pairs[0] -> keys = pl.concat(pairs).sort().unique(maintain_order=None) if len(pairs) > 1 else pairs[0]": SORTED_UNIQUE,
    "transform.junction_places: keys = pl.concat(pairs).sort().unique(maintain_order=True) if len(pairs) > 1 else pairs[0] -> keys = pl.concat(pairs).sort().unique(maintain_order=False) if len(pairs) > 1 else pairs[0]": SORTED_UNIQUE,
    "transform.junction_places: keys = pl.concat(pairs).sort().unique(maintain_order=True) if len(pairs) > 1 else pairs[0] -> keys = pl.concat(pairs).sort().unique(maintain_order=True) if (len(pairs) > 1) or True else pairs[0]": ONE_FEED,
    "transform.junction_places: keys = pl.concat(pairs).sort().unique(maintain_order=True) if len(pairs) > 1 else pairs[0] -> keys = pl.concat(pairs).sort().unique(maintain_order=True) if len(pairs) >= 1 else pairs[0]": ONE_FEED,
}

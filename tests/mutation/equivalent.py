"""Mutants that survive because they change nothing the code promises, each with the reason.

Keyed by `module.function: line as written -> line as mutated` (as the report prints them), so
an entry follows the code when lines move and lapses (the report says so) when the code changes.
"""

DEAD = ("unreachable: a model's rules always include the `_id` rule, "
        "and with no rules the function fails further on (`concat_list` of nothing)")
REGEX = "a NUL is no regex metacharacter: as a pattern it matches exactly the NUL, as the literal does"

EQUIVALENT: dict[str, str] = {
    'verify._is_int: isinstance(value, float) and value == value and abs(value) != float("inf")) -> '
    'isinstance(value, float) and value == value and abs(value) != float("INF"))':
        "float() reads its text case-insensitively: the same infinity",
    'verify.as_text: return json.dumps(value, ensure_ascii=False, separators=(",", ":")) -> '
    'return json.dumps(value, ensure_ascii=None, separators=(",", ":"))':
        "None is false, as False is: no escaping either way",
    'verify.as_text: return json.dumps(value, ensure_ascii=False, separators=(",", ":")) -> '
    'return json.dumps(value, ensure_ascii=False, separators=(",", "XX:XX"))':
        "the key separator: list columns hold strings, UUIDs and nulls, never an object with keys",
    'ids.uuid_binary: [_validity(texts), pa.py_buffer(raw.tobytes())], texts.null_count) -> '
    '[_validity(texts), pa.py_buffer(raw.tobytes())], )':
        "without the count Arrow counts the nulls from the validity bitmap: the same array",
    "ids.uuid_for: seconds, tail = value >> 64, value & ((1 << 64) - 1) -> "
    "seconds, tail = value >> 64, value & ((2 << 64) - 1)":
        "the extra bit (the seconds' lowest) reaches `high` as bit 12, which the version 7 (0x7000) already sets",
    "ids.uuid_for: seconds, tail = value >> 64, value & ((1 << 64) - 1) -> "
    "seconds, tail = value >> 64, value & ((1 << 65) - 1)":
        "the same 65-bit mask as above: bit 12 of `high` is already set by the version",
    "ids.object_id_of: tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 62) - 1)) >> 10) -> "
    "tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((2 << 62) - 1)) >> 10)":
        "the wider mask adds bit 62, the variant's low bit, which is 0 in every UUID this module makes",
    "ids.object_id_of: tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 62) - 1)) >> 10) -> "
    "tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 63) - 1)) >> 10)":
        "as above: bit 62 is 0 in every UUID this module makes",
    "ids.object_id_of: tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 62) - 1)) >> 10) -> "
    "tail = ((value >> 64) & 0xFFF) << 52 | ((value & ((1 << 62) - 2)) >> 10)":
        "clears bit 0, one of the 10 padding bits that `>> 10` drops anyway",
    "ids.in_lists: return pa.LargeListArray.from_arrays(pa.array(offsets - offsets[0], pa.int64()), convert(values), -> "
    "return pa.LargeListArray.from_arrays(pa.array(offsets - offsets[0], None), convert(values),":
        "Arrow widens int32 offsets to the large list's int64 itself",
    "ids.in_lists: return pa.LargeListArray.from_arrays(pa.array(offsets - offsets[0], pa.int64()), convert(values), -> "
    "return pa.LargeListArray.from_arrays(pa.array(offsets - offsets[0], ), convert(values),":
        "Arrow widens int32 offsets to the large list's int64 itself",
    "rules.problems_of: else pl.repeat(False, frame.height)).to_series() -> else pl.repeat(None, frame.height)).to_series()":
        DEAD,
    "rules.problems_of: else pl.repeat(False, frame.height)).to_series() -> else pl.repeat(False, None)).to_series()":
        DEAD,
    "rules.problems_of: else pl.repeat(False, frame.height)).to_series() -> else pl.repeat(frame.height)).to_series()":
        DEAD,
    "rules.problems_of: else pl.repeat(False, frame.height)).to_series() -> else pl.repeat(False, )).to_series()":
        DEAD,
    "rules.problems_of: else pl.repeat(False, frame.height)).to_series() -> else pl.repeat(True, frame.height)).to_series()":
        DEAD,
    "rules.problems_of: hit = frame.select(pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules -> hit = frame.select(pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if (rules) or True":
        DEAD,
    "rules.problems_of: hit = frame.select(pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules -> hit = frame.select(pl.any_horizontal([r.broken.fill_null(True) for r in rules]) if rules":
        "a row whose condition is null is then looked at, but `when` drops its null problem and it gets the same empty list: time only",
    "verify._canonical: return json.dumps(value, ensure_ascii=False) -> return json.dumps(value, ensure_ascii=None)":
        "None is false, as False is: no escaping either way",
    'verify._canonical: return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_canonical(v)}" -> '
    'return "{" + ",".join(f"{json.dumps(k, ensure_ascii=None)}:{_canonical(v)}"':
        "None is false, as False is: no escaping either way",
    'rules._checks: out.append(Rule(value.str.contains("\\x00", literal=True), problem( -> out.append(Rule(value.str.contains("\\x00", literal=None), problem(':
        REGEX,
    'rules._checks: out.append(Rule(value.str.contains("\\x00", literal=True), problem( -> out.append(Rule(value.str.contains("\\x00", ), problem(':
        REGEX,
    'rules._checks: out.append(Rule(value.str.contains("\\x00", literal=True), problem( -> out.append(Rule(value.str.contains("\\x00", literal=False), problem(':
        REGEX,
    'rules._checks: nul = value.list.eval(pl.element().str.contains("\\x00", literal=True)).list.any() -> nul = value.list.eval(pl.element().str.contains("\\x00", literal=None)).list.any()':
        REGEX,
    'rules._checks: nul = value.list.eval(pl.element().str.contains("\\x00", literal=True)).list.any() -> nul = value.list.eval(pl.element().str.contains("\\x00", )).list.any()':
        REGEX,
    'rules._checks: nul = value.list.eval(pl.element().str.contains("\\x00", literal=True)).list.any() -> nul = value.list.eval(pl.element().str.contains("\\x00", literal=False)).list.any()':
        REGEX,
}

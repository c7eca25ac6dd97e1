"""The quarantine rules: each a vectorised check with a name, the field it names and a fix.

A rule is a condition (true where a row breaks it) and the problem struct {field, rule,
reason} that row gets; the rules of a model are derived from its declaration, never listed
per model. Conditions are cheap and run on every row; problems are built only for rows that
break a rule, which in a healthy collection are few.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.limits import APP_DATETIME_MS, INT32, longest_indexed_text
from toolkit.declarations.spec import Field, Kind, ModelSpec
from toolkit.documents.dates import iso_date_expr

_JSON_NUL = r"(^|[^\\])(\\\\)*\\u0000"

HINTS = {
    "id_type": "give the document an ObjectId _id (other _id types have no UUID)",
    "type": "store the value with the BSON type the Prisma schema declares",
    "required": "set the field: the schema declares it required with no default",
    "enum": "use one of the enum's values (they are case-sensitive)",
    "int_range": "an Int must fit PostgreSQL integer (-2147483648..2147483647)",
    "timestamp_range": (
        "correct the date in MongoDB (likely a typing mistake), or remove it where the field is "
        "optional: the app's Prisma client reads only 0001-01-01T00:00:00.000Z .. "
        "9999-12-31T23:59:59.999Z"
    ),
    "nul": "remove the NUL character (\\u0000): PostgreSQL text cannot hold it",
    "index_size": (
        "shorten the text: the column is indexed, and an index entry holds at most 2,704 bytes: 2,692 of text "
        "in an index of that column alone, fewer beside other columns (the reason says how many)"
    ),
    "unique": "make the value unique or remove the duplicate document (a dump can repeat an _id)",
    "reference": "point the reference at an existing document, or remove the document",
    "quarantined_reference": "fix the referenced document first; this one then migrates with it",
    "bson": (
        "the bytes are not a well-formed BSON document (the reason says what and at which byte, the record "
        "holds them): dump the collection again from MongoDB, or repair the document and dump it again"
    ),
    "repeated_key": (
        "keep one value of the key (the record holds the document's exact bytes, every copy of the key "
        "in it): re-save the document in MongoDB, then dump again"
    ),
    "utf8": "re-save the text as UTF-8 in MongoDB (a key or string holds bytes that are not UTF-8), then dump again",
}


PROBLEM = pl.Struct({"field": pl.String, "rule": pl.String, "reason": pl.String})
NO_PROBLEMS = pl.lit([], dtype=pl.List(PROBLEM))


@dataclass(frozen=True)
class Rule:
    broken: pl.Expr  # true (or null, read as false) where a row breaks the rule
    problem: pl.Expr


def problem(field: str, rule: str, reason: pl.Expr) -> pl.Expr:
    return pl.struct(field=pl.lit(field), rule=pl.lit(rule), reason=reason)


def per_row(found: pl.DataFrame, key: str, column: str, n: int, empty: pl.Expr | None = None) -> pl.Series:
    """`found`'s `column` spread over rows 0..n-1 by their number in `key`: only the few rows
    that have a value are computed, and the others get `empty` (null if none is given)."""
    every = pl.DataFrame({key: pl.int_range(n, dtype=pl.UInt32, eager=True)})
    spread = every.join(found.select(key, column), on=key, how="left", maintain_order="left")[column]
    return spread if empty is None else spread.fill_null(empty)


def problems_of(frame: pl.DataFrame, rules: list[Rule]) -> pl.Series:
    """Per row, the list of problems the rules find, in rule order."""
    hit = frame.select(
        pl.any_horizontal([r.broken.fill_null(False) for r in rules]) if rules else pl.repeat(False, frame.height)
    ).to_series()
    found = (
        frame.with_row_index("row")
        .filter(hit)
        .select(
            "row",
            pl.concat_list([pl.when(r.broken).then(r.problem) for r in rules]).list.drop_nulls().alias("problems"),
        )
    )
    return per_row(found, "row", "problems", frame.height, NO_PROBLEMS)


def _fmt(template: str, *values) -> pl.Expr:
    return pl.format(template, *values)


def field_rules(model: ModelSpec, enums: dict[str, tuple[str, ...]], indexed: dict[str, int]) -> list[Rule]:
    """Row-level rules for every declared field; `indexed`: the longest text each indexed text
    column may hold (`indexed_texts`)."""
    checks = [
        Rule(
            pl.col("m2pg_object_id").is_null(),
            problem("_id", "id_type", _fmt("_id: {} is not an ObjectId", pl.col("m2pg_source_id"))),
        )
    ]
    for f in model.fields:
        if f.key != "_id":
            checks += _checks(f, enums, indexed.get(f.name))
    return checks


def _checks(f: Field, enums, longest: int | None) -> list[Rule]:
    value = pl.col(f.key)
    out = []
    if f.required:
        out.append(
            Rule(value.is_null(), problem(f.name, "required", pl.lit(f"{f.name}: required field is missing or null")))
        )
    if f.kind is Kind.ENUM:
        allowed = list(enums[f.enum])
        out.append(
            Rule(
                value.is_not_null() & ~value.is_in(allowed),
                problem(
                    f.name,
                    "enum",
                    _fmt(f"{f.name}: {{}} is not a value of enum {f.enum} ({', '.join(allowed)})", value),
                ),
            )
        )
    if f.kind is Kind.INT:
        out.append(
            Rule(
                ~value.is_between(*INT32) & value.is_not_null(),
                problem(f.name, "int_range", _fmt(f"{f.name}: {{}} is outside the PostgreSQL integer range", value)),
            )
        )
    if f.kind is Kind.DATETIME:
        ms = value.cast(pl.Int64)
        out.append(
            Rule(
                ~ms.is_between(*APP_DATETIME_MS) & ms.is_not_null(),
                problem(
                    f.name,
                    "timestamp_range",
                    _fmt(
                        f"{f.name}: {{}} is outside 0001-01-01 .. 9999-12-31, the dates the app's Prisma client "
                        "reads (it would return Invalid Date)",
                        iso_date_expr(ms),
                    ),
                ),
            )
        )
    if f.kind in (Kind.TEXT, Kind.ENUM):
        out.append(
            Rule(
                value.str.contains("\x00", literal=True),
                problem(f.name, "nul", pl.lit(f"{f.name}: text holds a NUL character")),
            )
        )
    if f.kind is Kind.TEXT_LIST:
        nul = value.list.eval(pl.element().str.contains("\x00", literal=True)).list.any()
        out.append(Rule(nul, problem(f.name, "nul", pl.lit(f"{f.name}: an element holds a NUL character"))))
    if f.kind is Kind.JSON:
        out.append(
            Rule(
                value.str.contains(_JSON_NUL),
                problem(f.name, "nul", pl.lit(f"{f.name}: a JSON string holds a NUL character")),
            )
        )
    if longest is not None:
        out.append(
            Rule(
                value.str.len_bytes() > longest,
                problem(
                    f.name,
                    "index_size",
                    _fmt(f"{f.name}: {{}} bytes is too long for its index (at most {longest})", value.str.len_bytes()),
                ),
            )
        )
    return out


def repeats(keys: pl.DataFrame, model: ModelSpec) -> pl.DataFrame:
    """Rows (by collection-wide number) that repeat an earlier `_id` or unique value.

    `keys` holds every document's `m2pg_row`, `m2pg_object_id`, `m2pg_converted` (no type
    problem) and the unique fields; the earliest document keeps the value. A later copy of an
    `_id` keeps none: it never loads, and the row under its `_id` holds the first copy's values.
    """
    keys = keys.rechunk()  # polars 2.1 panics formatting a filtered string column read from several parts
    oid = pl.col("m2pg_object_id")
    again = oid.is_not_null() & ~oid.is_first_distinct()
    keys = keys.with_columns(m2pg_holds=pl.col("m2pg_converted") & ~again)
    found = [
        keys.filter(again).select(
            "m2pg_row",
            problem("_id", "unique", pl.format("_id: {} repeats the _id of an earlier document", oid)).alias("repeat"),
        )
    ]
    for f in model.fields:
        if f.unique:
            value = pl.when(pl.col("m2pg_holds")).then(pl.col(f.key))
            holder = pl.format(" (_id {})", oid.first().over(value))  # the operator looks it up: it may be refused too
            found.append(
                keys.filter(value.is_not_null())
                .with_columns(holder.fill_null("").alias("m2pg_holder"))
                .filter(~value.is_first_distinct())
                .select(
                    "m2pg_row",
                    problem(
                        f.name,
                        "unique",
                        pl.format(
                            f"{f.name}: {{}} repeats the value of an earlier document{{}}",
                            pl.col(f.key),
                            pl.col("m2pg_holder"),
                        ),
                    ).alias("repeat"),
                )
            )
    return pl.concat(found).group_by("m2pg_row", maintain_order=True).agg(pl.col("repeat").alias("repeats"))


def indexed_texts(model: ModelSpec) -> dict[str, int]:
    """Each text column in a btree index (the model's, and the unique ones'): the longest text
    every entry of its indexes holds, beside the other columns' values at their widest."""
    kinds = {f.name: f.kind for f in model.fields}
    indexes = [*model.indexes, *((f.name,) for f in model.fields if f.unique)]
    longest: dict[str, int] = {}
    for index in indexes:
        widths = [KINDS[kinds[c]].fixed for c in index]
        for at, column in enumerate(index):
            if kinds[column] is Kind.TEXT:
                fits = longest_indexed_text(widths, at)
                longest[column] = min(longest.get(column, fits), fits)
    return longest

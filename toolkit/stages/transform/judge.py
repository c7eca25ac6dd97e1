"""Judging a collection's documents: the quarantine rules, values that must be unique and
repeat, and references checked against what the referenced models kept."""

from __future__ import annotations

import polars as pl

from toolkit.declarations.spec import Field, ModelSpec
from toolkit.documents.ids import uuids_of
from toolkit.documents.lookup import is_among
from toolkit.stages.rules import field_rules, indexed_texts, problem, problems_of, repeats
from toolkit.stages.transform.outcome import Outcome


def judge(
    raw: pl.DataFrame,
    model: ModelSpec,
    enums,
    outcome: Outcome,
    repeated: pl.DataFrame | None = None,
    own: bool = True,
) -> pl.DataFrame:
    """Attach `problems` (a list of {field, rule, reason}) and the remapped references; without
    `own`, the references of the model to itself are left unjudged (what it keeps is not known yet)."""
    extracted = pl.col("m2pg_problems").list.len() > 0
    rules = problems_of(raw, field_rules(model, enums, indexed_texts(model)))
    frame = raw.with_columns(problems=pl.when(extracted).then(pl.col("m2pg_problems")).otherwise(rules))
    if repeated is None:  # the whole collection is in this frame
        frame = frame.with_row_index("m2pg_row")
        repeated = repeats(frame.select("m2pg_row", *repeat_keys(model)), model)
    if repeated.height:  # most parts repeat nothing
        frame = frame.join(repeated, on="m2pg_row", how="left", maintain_order="left").with_columns(
            problems=pl.when(pl.col("repeats").is_null())
            .then("problems")
            .otherwise(pl.concat_list(["problems", "repeats"]))
        )
    for f in model.references:
        if own or f.parent.model != model.name:
            frame = _reference(frame, f, outcome)
    return frame


def repeat_keys(model: ModelSpec) -> list[pl.Expr]:
    """The columns `repeats` reads besides the row: the ObjectId, whether the document decoded,
    its unique values; taken from each part as it is read, so a collection's problem lists are
    never held together."""
    unique = [pl.col(f.key) for f in model.fields if f.unique]
    return [pl.col("m2pg_object_id"), (pl.col("m2pg_problems").list.len() == 0).alias("m2pg_converted"), *unique]


def _reference(frame: pl.DataFrame, f: Field, outcome: Outcome) -> pl.DataFrame:
    """Remap one foreign key: an ObjectId the referenced model kept becomes its UUID (found by a
    binary search, so no hash table of the referenced collection is built for every part); a
    required one that points nowhere is a problem."""
    target = f.parent.model
    values = frame[f.key]
    kept = values.zip_with(is_among(values, outcome.kept[target]["object_id"]), pl.Series([None], dtype=values.dtype))
    frame = frame.with_columns(uuids_of(kept).alias(f"m2pg_ref_{f.name}"))
    if values.null_count() == kept.null_count():  # every reference found: no reason to write, row by row
        return frame.with_columns(pl.lit(None, pl.String).alias(f"m2pg_miss_{f.name}"))
    dangling = pl.col(f.key).is_not_null() & pl.col(f"m2pg_ref_{f.name}").is_null()
    quarantined = pl.col(f.key).is_in(outcome.quarantined[target].implode())
    frame = frame.with_columns(
        **{
            f"m2pg_miss_{f.name}": pl.when(~dangling)
            .then(None)
            .when(quarantined)
            .then(pl.lit("quarantined"))
            .otherwise(pl.lit("missing"))
        }
    )
    if f.required:
        reason = (
            pl.when(quarantined)
            .then(
                problem(
                    f.name,
                    "quarantined_reference",
                    pl.format(
                        f"{f.name}: {target} {{}} is quarantined, so this record cannot reference it", pl.col(f.key)
                    ),
                )
            )
            .otherwise(
                problem(
                    f.name,
                    "reference",
                    pl.format(
                        f"{f.name}: {target} {{}} does not exist"
                        + (
                            f" (the source holds no {outcome.absent[target]} collection)"
                            if target in outcome.absent
                            else ""
                        ),
                        pl.col(f.key),
                    ),
                )
            )
        )
        flagged = pl.when(dangling & (pl.col("problems").list.len() == 0)).then(reason)
        frame = frame.with_columns(problems=pl.concat_list(["problems", flagged]).list.drop_nulls())
    return frame

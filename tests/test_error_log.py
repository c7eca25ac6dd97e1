"""The error log: every quarantined record with its id, field, rule, fix and document; tool
failures that survive a rewrite; a summary by collection and by rule; no NUL, no password."""

import io
import json

import polars as pl
import pytest
from rich.console import Console

from toolkit.reports.error_log import log_failure, print_summary, summary, write_error_log
from toolkit.stages.rules import HINTS
from toolkit.staging.layout import Staging, write_parquet

SCHEMA = {
    "collection": pl.String,
    "object_id": pl.String,
    "source_id": pl.String,
    "field": pl.String,
    "rule": pl.String,
    "reason": pl.String,
    "document": pl.String,
}
A1, A3 = "6b064c82833346aaba78a501", "6b064c82833346aaba78a503"
C1, C2, C3 = "6b064c82833346aaba78a601", "6b064c82833346aaba78a602", "6b064c82833346aaba78a603"
ODD_ID = '"[bold]legacy-42"'  # a string _id as relaxed extended JSON, with rich markup in it


def doc(_id, **fields) -> str:
    return json.dumps({"_id": _id, **fields}, ensure_ascii=False)


# collection, object_id, source_id, field, rule, reason, document
RECORDS = [
    (
        "Accounts",
        A1,
        f'{{"$oid": "{A1}"}}',
        "name",
        "required",
        "name: required field is missing or null",
        doc({"$oid": A1}, name=None, website="https://admin:hunter2@crm.example/x"),
    ),
    (
        "Accounts",
        None,
        ODD_ID,
        "_id",
        "id_type",
        f"_id: {ODD_ID} is not an ObjectId",
        doc("[bold]legacy-42", name="Old"),
    ),
    (
        "Accounts",
        A3,
        f'{{"$oid": "{A3}"}}',
        "name",
        "required",
        "name: required field is missing or null",
        doc({"$oid": A3}, tags=["a", {"b": [1, None]}]),
    ),
    (
        "crm_Contacts",
        C1,
        f'{{"$oid": "{C1}"}}',
        "first_name",
        "nul",
        "first_name: text holds a NUL character (a\x00b)",
        doc({"$oid": C1}, first_name="a\x00b"),
    ),
    (
        "crm_Contacts",
        C2,
        f'{{"$oid": "{C2}"}}',
        "last_name",
        "required",
        "last_name: required — «Ærøskøbing» 日本語 🎉",
        doc({"$oid": C2}, note="Ærøskøbing 日本語 🎉\u2028x"),
    ),
    (
        "crm_Contacts",
        C3,
        f'{{"$oid": "{C3}"}}',
        "email",
        "required",
        "email: required field is missing or null",
        doc({"$oid": C3}, email=None),
    ),
]


@pytest.fixture
def staging(tmp_path):
    frame = pl.DataFrame(RECORDS, schema=SCHEMA, orient="row")
    for (collection,), part in frame.partition_by("collection", as_dict=True).items():
        write_parquet(part.to_arrow(), Staging(tmp_path).quarantine(collection) / "part-00000.parquet")
    return tmp_path


def blocks(log: str) -> list[str]:
    return log.split("\n### ")[1:]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: f"{r[0]}-{r[4]}-{r[3]}")
def test_every_record_has_a_block_with_what_to_fix(staging, record):
    collection, object_id, source_id, field, rule, _, document = record
    log = write_error_log(staging).read_text(encoding="utf-8")
    shown_id = f"ObjectId {object_id}" if object_id else f"_id {source_id} (not an ObjectId)"
    [block] = [b for b in blocks(log) if b.startswith(f"{collection} {shown_id} ")]
    assert f"collection: {collection}" in block
    assert f"field:      {field}" in block
    assert f"rule:       {rule}" in block
    assert f"fix:        {HINTS[rule]}" in block
    first_key = next(iter(json.loads(document)))
    assert f'"{first_key}": ' in block.split("document:")[1]


def test_log_text_is_escaped_pretty_and_redacted(staging):
    log = write_error_log(staging).read_text(encoding="utf-8")
    assert log.startswith("# m2pg error log for ")
    assert "## Quarantined records: 6" in log
    assert "\x00" not in log and "\u2028" not in log
    assert "first_name: text holds a NUL character (a\\u0000b)" in log
    assert '"first_name": "a\\u0000b"' in log  # the document's NUL as JSON shows it
    assert "last_name: required — «Ærøskøbing» 日本語 🎉" in log
    assert "Ærøskøbing 日本語 🎉\\u2028x" in log
    assert '            "b": [\n' in log  # nested values indented under the document
    assert "hunter2" not in log and "https://admin:***@crm.example/x" in log
    assert log.endswith("## Tool failures: none\n")
    assert not list((staging / "reports").glob(".*.tmp"))


def test_summary_counts_samples_and_hints(staging):
    result = summary(staging)
    assert result["quarantined"] == 6
    assert result["collections"] == {"Accounts": 3, "crm_Contacts": 3}
    assert list(result["rules"]) == ["required", "id_type", "nul"]
    assert result["rules"]["required"] == {
        "records": 4,
        "samples": [f"Accounts {A1}", f"Accounts {A3}", f"crm_Contacts {C2}"],
        "hint": HINTS["required"],
    }
    assert result["rules"]["id_type"] == {"records": 1, "samples": [f"Accounts {ODD_ID}"], "hint": HINTS["id_type"]}
    assert result["rules"]["nul"]["samples"] == [f"crm_Contacts {C1}"]
    assert result["tool_failures"] == 0


def test_tool_failures_survive_a_rewrite(staging):
    traceback = (
        'Traceback (most recent call last):\n  File "load.py", line 9, in load\n'
        "ConnectionError: postgresql://m2pg:s3cret@db.example:5432/nextcrm refused\n"
    )
    first = log_failure(staging, "load", traceback).read_text(encoding="utf-8")
    assert "not listed yet" in first and "## Tool failures: 1" in first
    write_error_log(staging)
    log_failure(staging, "reconcile", "RuntimeError: boom\x00")
    log = write_error_log(staging).read_text(encoding="utf-8")
    assert "## Quarantined records: 6" in log and len(blocks(log)) == 6 + 2
    assert "## Tool failures: 2" in log
    failures = log.split("## Tool failures")[1]
    assert " stage load\n" in failures and " stage reconcile\n" in failures
    assert '    File "load.py", line 9, in load\n' in failures
    assert "postgresql://m2pg:***@db.example:5432/nextcrm" in failures and "s3cret" not in log
    assert "RuntimeError: boom\\u0000" in failures
    assert summary(staging)["tool_failures"] == 2


def test_empty_staging_says_nothing_was_quarantined(tmp_path):
    log = write_error_log(tmp_path).read_text(encoding="utf-8")
    assert "## Quarantined records: 0" in log and "No record was quarantined." in log
    assert log.endswith("## Tool failures: none\n")
    result = summary(tmp_path)
    assert (result["quarantined"], result["collections"], result["rules"]) == (0, {}, {})
    console = Console(file=io.StringIO(), width=200, record=True)
    print_summary(result, console)
    assert console.export_text().startswith("No record was quarantined.")


def test_rich_summary_renders_tables_and_total(staging):
    write_error_log(staging)
    log_failure(staging, "validate", "ValueError: x")
    console = Console(file=io.StringIO(), width=250, record=True)
    print_summary(summary(staging), console)
    text = console.export_text()
    assert "quarantined by collection" in text and "quarantined by rule" in text
    assert "crm_Contacts" in text and HINTS["required"] in text
    assert f"Accounts {A1}, Accounts {A3}, crm_Contacts {C2}" in text
    assert "[bold]legacy-42" in text  # rich markup in an id is printed, not applied
    assert "6 records quarantined in 2 collections; 1 tool failure logged" in text

"""The declarations against the app's own Prisma schema: where its client and its migration
disagree (BigInt read from integer columns), the declarations say so, field by field."""

import re
from pathlib import Path

from toolkit.declarations.spec import Kind
from toolkit.target.schema import client_drift, column_sql
from transforms import MODELS

PRISMA_SCHEMA = Path(__file__).parent / "app" / "schema.prisma"


def prisma_fields(type_name: str) -> set[tuple[str, str]]:
    """(model, field) pairs the Prisma schema declares with `type_name` (optional or not)."""
    found, model = set(), None
    for line in PRISMA_SCHEMA.read_text().splitlines():
        if start := re.match(r"model (\w+) \{", line):
            model = start[1]
        elif line.startswith("}"):
            model = None
        elif model and (field := re.match(rf"\s+(\w+)\s+{type_name}\??(\s|$)", line)):
            found.add((model, field[1]))
    return found


def test_bigint_fields_of_the_client_are_declared_as_drift():
    declared = {(m.name, f.name) for m in MODELS for f in m.fields if f.client_type == "BigInt"}
    assert declared == prisma_fields("BigInt")
    assert len(declared) == 12


def test_drift_is_one_line_naming_every_column():
    line = client_drift(MODELS)
    assert "\n" not in line
    assert line.startswith("12 columns are BigInt in the app's client, integer in its migration")
    assert "crm_Opportunities.budget" in line and "crm_Accounts_Tasks.likes" in line
    assert client_drift([m for m in MODELS if m.name == "Users"]) is None


def test_every_datetime_column_is_created_with_milliseconds():
    datetimes = [(m, f) for m in MODELS for f in m.fields if f.kind is Kind.DATETIME]
    assert len(datetimes) == 43
    assert all(column_sql(f).split()[1] == "timestamp(3)" for _, f in datetimes)
    assert len(prisma_fields("DateTime")) == 43


def test_fields_the_client_sets_on_every_write_are_declared():
    """A catch-up that trusts `updatedAt` asks the server for exactly the app's @updatedAt fields."""
    declared = {(m.name, name) for m in MODELS for name in m.updated_at}
    stamped = set()
    model = None
    for line in PRISMA_SCHEMA.read_text().splitlines():
        if start := re.match(r"model (\w+) \{", line):
            model = start[1]
        elif model and (field := re.match(r"\s+(\w+)\s+DateTime\??\s.*@updatedAt", line)):
            stamped.add((model, field[1]))
    assert declared == stamped
    assert len(declared) == 12

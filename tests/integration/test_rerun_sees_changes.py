"""The stages run again over a staging folder made earlier give what a fresh run gives, whatever
changed in between:
- the app's declarations: a field made optional after a trial lets its records through, since a
  part's fingerprint holds the declaration it was made from, and extract reads again the parts
  a live server vouches for when they were decoded under another declaration;
- the ids of a collection a plain ObjectId field points at (an opportunity's `contact` names no
  foreign key): the ids pointing at no document are counted again, also for a collection whose
  own documents did not change."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from processes import environment
from toolkit.generate import sample as generate
from toolkit.staging.layout import read_json
from transforms import APP

QUARANTINED = 3
LOOSENED_FIELDS = {("crm_Accounts", "name"), ("crm_Industry_Type", "name"), ("Invoices", "invoice_file_url")}
LOOSENED = replace(
    APP,
    models=tuple(
        replace(
            m, fields=tuple(replace(f, optional=True) if (m.name, f.name) in LOOSENED_FIELDS else f for f in m.fields)
        )
        for m in APP.models
    ),
)
"""NextCRM's declarations with two required fields made optional: a declaration fixed after a trial."""


def m2pg(*args: str, app: str | None = None) -> subprocess.CompletedProcess:
    env = environment()
    if app:
        env["M2PG_APP"] = app
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parent), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "toolkit.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def transform(staging: Path, dump: Path | None = None, app: str | None = None) -> dict:
    """Extract `dump` into `staging` (if given), transform it; the transform report without its
    timings and the parts skipped or redone."""
    if dump:
        assert m2pg("extract", "--dump", str(dump), "--staging", str(staging), app=app).returncode == 0
    done = m2pg("transform", "--staging", str(staging), app=app)
    assert done.returncode == QUARANTINED, done.stderr
    report = json.loads((staging / "reports" / "transform.json").read_text())
    for entry in [report, *report["collections"]]:
        for key in ("seconds", "parts_skipped", "parts_done"):
            entry.pop(key, None)
    return report


def of(report: dict, collection: str) -> dict:
    return next(c for c in report["collections"] if c["collection"] == collection)


@pytest.fixture(scope="module")
def bad_dump(tmp_path_factory) -> Path:
    """The `bad` profile: among its refused records, an account without a name."""
    folder = tmp_path_factory.mktemp("bad")
    assert m2pg("generate", "bad", "--dump-out", str(folder)).returncode == 0
    return folder


@pytest.fixture(scope="module")
def without_contacts(tmp_path_factory, dataset) -> Path:
    """The demo dataset less the contacts its opportunities' `contact` fields name most often,
    opportunities untouched."""
    named = [o["contact"] for o in dataset["crm_Opportunities"] if o.get("contact")]
    gone = set(sorted(set(named), key=named.count)[-3:])
    changed = {**dataset, "crm_Contacts": [c for c in dataset["crm_Contacts"] if c["_id"] not in gone]}
    folder = tmp_path_factory.mktemp("changed")
    generate.write_dump(folder, "nextcrm", changed)
    return folder


def test_a_declaration_changed_since_is_applied_to_parts_staged_before(bad_dump, tmp_path):
    staging, app = tmp_path / "staging", f"{Path(__file__).stem}:LOOSENED"
    before = transform(staging, bad_dump)
    assert m2pg("validate", "--staging", str(staging)).returncode == QUARANTINED
    again = transform(staging, app=app)
    assert again == transform(tmp_path / "fresh", bad_dump, app=app)
    assert of(again, "crm_Accounts")["quarantined"] < of(before, "crm_Accounts")["quarantined"]
    assert m2pg("validate", "--staging", str(staging), app=app).returncode == QUARANTINED
    checked = read_json(staging / "reports" / "validate.json")["tables"]
    assert not checked["crm_Industry_Type"].get("skipped"), "its rows are the same; its declaration is not"
    assert checked["Employees"].get("skipped"), "nothing it is made from changed"


def test_a_trusted_extract_reads_again_what_another_declaration_decoded(mongo_uri, tmp_path):
    staging, app = tmp_path / "staging", f"{Path(__file__).stem}:LOOSENED"
    extract = ("extract", "--mongo-uri", mongo_uri, "--mongo-db", "nextcrm", "--staging", str(staging))
    assert m2pg(*extract, "--part-size", "100").returncode == 0
    assert m2pg(*extract, "--part-size", "100", "--trust-updated-at").returncode == 0
    kept = read_json(staging / "raw" / "crm_Leads" / "manifest.json")
    assert kept["parts_unread"] == len(kept["parts"]) > 1, "nothing changed: the server vouches for every part"
    assert m2pg(*extract, "--part-size", "100", "--trust-updated-at", app=app).returncode == 0
    changed = read_json(staging / "raw" / "crm_Accounts" / "manifest.json")
    assert changed["parts_unread"] == 0
    assert changed["read_whole"] == "the app's declaration of it changed since the earlier extract"
    assert read_json(staging / "raw" / "crm_Leads" / "manifest.json")["parts_unread"] == len(kept["parts"])


def killed_in_the_second_collection(dump: Path, staging: Path) -> tuple[tuple[str, ...], dict[str, dict]]:
    """One worker reads the largest collection first (Invoices), then crm_Contacts: killed in the
    second, the first is complete and the second half staged. (the extract's arguments, the two
    manifests)"""
    extract = ("extract", "--dump", str(dump), "--staging", str(staging), "--part-size", "100", "--workers", "1")
    killed = subprocess.run(
        [sys.executable, "-m", "toolkit.cli", *extract], env=environment("extract-part:12"), capture_output=True
    )
    assert killed.returncode == -9
    before = {c: read_json(staging / "raw" / c / "manifest.json") for c in ("Invoices", "crm_Contacts")}
    assert before["Invoices"]["complete"] and not before["crm_Contacts"]["complete"]
    return extract, before


def test_an_interrupted_extract_resumes_only_what_the_same_declaration_decoded(dump, tmp_path):
    staging, app = tmp_path / "staging", f"{Path(__file__).stem}:LOOSENED"
    extract, before = killed_in_the_second_collection(dump, staging)
    assert m2pg(*extract, app=app).returncode == 0
    invoices, contacts = (read_json(staging / "raw" / c / "manifest.json") for c in ("Invoices", "crm_Contacts"))
    assert invoices["restarted"] == "the app's declaration of it changed since the interrupted extract"
    assert invoices["parts_resumed"] == 0 and invoices["parts_written"] == len(invoices["parts"])
    assert "restarted" not in contacts and contacts["parts_resumed"] == len(before["crm_Contacts"]["parts"])


def test_an_interrupted_extract_resumes_only_what_this_version_decoded(dump, tmp_path):
    """An upgrade between the kill and the resume: a collection the older m2pg staged, complete or
    not, is read again, as its parts hold what that version decoded."""
    staging = tmp_path / "staging"
    extract, before = killed_in_the_second_collection(dump, staging)
    for collection, manifest in before.items():  # as the version before RAW_VERSION's bump staged them
        (staging / "raw" / collection / "manifest.json").write_text(json.dumps({**manifest, "raw_version": "2"}))
    assert m2pg(*extract).returncode == 0
    for collection in before:
        manifest = read_json(staging / "raw" / collection / "manifest.json")
        assert manifest["restarted"] == "the interrupted extract was made by another version of m2pg"
        assert manifest["parts_resumed"] == 0 and manifest["parts_written"] == len(manifest["parts"])


def test_transform_refuses_what_another_version_extracted(dump, tmp_path):
    """An upgrade between extract and transform: the parts hold what the older m2pg decoded."""
    staging = tmp_path / "staging"
    assert m2pg("extract", "--dump", str(dump), "--staging", str(staging)).returncode == 0
    path = staging / "raw" / "Documents" / "manifest.json"
    path.write_text(json.dumps({**read_json(path), "raw_version": "2"}))  # as the version before the bump staged it
    done = m2pg("transform", "--staging", str(staging))
    assert done.returncode == 2
    assert "Documents was extracted by another version of m2pg" in done.stderr
    assert "run `m2pg extract` to extract it again" in done.stderr


def test_a_rerun_counts_ids_pointing_at_documents_gone_since(dump, without_contacts, tmp_path):
    staging = tmp_path / "staging"
    before = transform(staging, dump)
    again = transform(staging, without_contacts)
    fresh = transform(tmp_path / "fresh", without_contacts)
    assert (
        of(fresh, "crm_Opportunities")["dangling_ids"]["contact"]
        > of(before, "crm_Opportunities")["dangling_ids"]["contact"]
    )
    assert again == fresh
    assert read_json(staging / "reports" / "transform.json")["parts_skipped"] > 0, "what depends on no change is kept"

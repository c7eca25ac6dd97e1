"""A stage run after an earlier stage was run again, without the stages in between, is refused
like a stage run before the one it needs: what it would read was made of the data staged before."""

import json

import adbc_driver_postgresql.dbapi as pg
import pytest

from processes import m2pg


@pytest.fixture(scope="module")
def extracted_again(dump, tmp_path_factory):
    """Extracted and transformed, then extracted again (the source fixed, say): not transformed since."""
    root = tmp_path_factory.mktemp("staging")
    for args in (("extract", "--dump", str(dump)), ("transform",), ("extract", "--dump", str(dump))):
        done = m2pg(*args, "--staging", str(root))
        assert done.returncode in (0, 3), done.stdout + done.stderr
    return root


@pytest.mark.parametrize("command", ["validate", "errors", "reconcile", "verify"])
def test_a_stage_reading_a_transform_older_than_the_extract_names_transform(extracted_again, dump, pg_uri, command):
    """`errors` listed the records of the earlier extract (a record fixed in the source since
    still there, exit 3), validate said every table passes, reconcile and verify failed tables
    (exit 1) over a quarantine of other data: none said the transform was not run again."""
    target = ()
    if command in ("reconcile", "verify"):
        assert m2pg("schema", "--pg-uri", pg_uri).returncode == 0
        target = ("--pg-uri", pg_uri) + (("--dump", str(dump)) if command == "verify" else ())
    before = sorted(p.name for p in (extracted_again / "reports").iterdir())
    done = m2pg(command, "--staging", str(extracted_again), *target)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert output.splitlines() == [
        f"error: {command}: the transform output in {extracted_again} predates the last extract (its clean rows "
        f"and quarantine are of the data staged before); hint: run `m2pg transform --staging {extracted_again}` first"
    ], output
    assert sorted(p.name for p in (extracted_again / "reports").iterdir()) == before
    if target:
        with pg.connect(pg_uri) as conn, conn.cursor() as cur:
            cur.execute('SELECT count(*) FROM "Users"')
            assert cur.fetchone() == (0,)


def test_the_same_stages_run_once_transform_is_run_again(extracted_again, tmp_path):
    import shutil

    root = tmp_path / "staging"
    shutil.copytree(extracted_again, root)
    assert m2pg("transform", "--staging", str(root)).returncode == 3
    for command in ("validate", "errors"):
        done = m2pg(command, "--staging", str(root))
        assert done.returncode == 3, done.stdout + done.stderr


@pytest.fixture(scope="module", params=["rules_version", "raw_version"])
def transformed_by_older(dump, tmp_path_factory, request):
    """Extracted and transformed by an m2pg before the last RULES_VERSION bump (or the raw parts'
    RAW_VERSION bump, whose transform took what that version decoded), which recorded none; then
    m2pg upgraded, and no transform run since."""
    root = tmp_path_factory.mktemp("staging")
    for args in (("extract", "--dump", str(dump)), ("transform",)):
        done = m2pg(*args, "--staging", str(root))
        assert done.returncode in (0, 3), done.stdout + done.stderr
    report = root / "reports" / "transform.json"
    report.write_text(json.dumps({k: v for k, v in json.loads(report.read_text()).items() if k != request.param}))
    return root


@pytest.mark.parametrize("command", ["validate", "errors", "reconcile", "verify", "load"])
def test_a_stage_reading_a_transform_of_other_rules_names_transform(transformed_by_older, dump, pg_uri, command):
    """A load after an upgrade loaded the rows the older rules kept (a document they refused and
    these keep was left out), and every later stage took their quarantine for this version's."""
    root = transformed_by_older
    target = ()
    if command in ("reconcile", "verify", "load"):
        assert m2pg("schema", "--pg-uri", pg_uri).returncode == 0
        target = ("--pg-uri", pg_uri) + (("--dump", str(dump)) if command == "verify" else ())
    done = m2pg(command, "--staging", str(root), *target)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    said = (
        f"error: load: the clean rows in {root / 'clean'} were made by another version of m2pg"
        if command == "load"
        else f"error: {command}: the transform output in {root} was made by another version of m2pg "
        f"(its rules may keep or refuse other records)"
    )
    assert output.splitlines()[0].startswith(said), output
    assert "`m2pg transform" in output
    if target:
        with pg.connect(pg_uri) as conn, conn.cursor() as cur:
            cur.execute('SELECT count(*) FROM "Users"')
            assert cur.fetchone() == (0,)

"""`m2pg status --pg-uri` (M2PG_PG_URI is often exported) with a mistyped --staging: the target's
state, and a line saying the folder does not exist, not a table of collections never extracted."""

from processes import m2pg


def test_the_status_of_a_missing_folder_with_a_target_shows_only_the_target(pg_uri, tmp_path):
    assert m2pg("schema", "--pg-uri", pg_uri).returncode == 0
    mistyped = tmp_path / "stagign"
    done = m2pg("status", "--staging", str(mistyped), "--pg-uri", pg_uri)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    lines = output.splitlines()
    assert lines[0] == f"staging {mistyped}: no such folder (check --staging); only the target is shown", output
    assert "not finished" not in output and "Users" not in output, output
    assert lines[1].startswith("target ") and "no batch loaded yet" in lines[1], output
    assert not mistyped.exists()


def test_a_password_parameter_holding_a_quote_is_never_shown(pg_uri, tmp_path):
    """libpq reads `&password=...` of a URI as it is, quotes too; status showed the password from
    its first quote on, as did `run --json` and load.json and reconcile.json."""
    uri = pg_uri + "&password=Se'cret\"Rest12"
    done = m2pg("status", "--staging", str(tmp_path / "none"), "--pg-uri", uri)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "no batch loaded yet" in output, output
    assert "cret" not in output and "Rest12" not in output, output

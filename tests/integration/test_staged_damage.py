"""Staged files are checked when read: a part or manifest damaged on disk stops the stage that reads
it with exit 1 and one line naming the file and the stage to re-run, and changes nothing."""

import shutil

import adbc_driver_postgresql.dbapi as pg
import pytest

from processes import m2pg

PART = "200"


@pytest.fixture(scope="module")
def pristine(dump, tmp_path_factory):
    """A staging folder extracted, transformed and validated."""
    root = tmp_path_factory.mktemp("pristine")
    for args in (("extract", "--dump", str(dump)), ("transform",), ("validate",)):
        done = (
            m2pg(*args, "--staging", str(root), "--batch-size", PART)
            if args[0] == "extract"
            else m2pg(*args, "--staging", str(root))
        )
        assert done.returncode in (0, 3), done.stdout + done.stderr
    return root


def edit_value(path):
    """An Invoice's status changed in place: same size, another value."""
    data = path.read_bytes()
    at = data.index(b"paid")
    path.write_bytes(data[:at] + b"PAID" + data[at + 4 :])


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def garble(path):
    path.write_text(path.read_text()[:-40])


def snapshot(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


CASES = [  # stage run, file damaged, how, the stage named to re-run
    ("transform", "raw/Invoices/part-00001.parquet", edit_value, "extract"),
    ("transform", "raw/Invoices/part-00001.parquet", truncate, "extract"),
    ("transform", "raw/Users/part-00000.parquet", flip_byte, "extract"),
    ("transform", "raw/Users/manifest.json", garble, "extract"),
    ("validate", "clean/Invoices/part-00001.parquet", flip_byte, "transform"),
    ("validate", "clean/Invoices/part-00001.parquet", truncate, "transform"),
    ("validate", "clean/Tasks/manifest.json", garble, "transform"),
    ("validate", "clean/DocumentsToInvoices/part-00000.parquet", flip_byte, "transform"),
]


@pytest.mark.parametrize("stage, name, damage, rerun", CASES, ids=[f"{c[0]}-{c[1]}-{c[2].__name__}" for c in CASES])
def test_a_damaged_file_stops_the_stage_that_reads_it(pristine, tmp_path, stage, name, damage, rerun):
    root = tmp_path / "staging"
    shutil.copytree(pristine, root)
    damage(root / name)
    before = snapshot(root)
    done = m2pg(stage, "--staging", str(root))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    lines = [line for line in output.splitlines() if str(root / name) in line]
    assert len(lines) == 1 and f"re-run `m2pg {rerun}`" in lines[0], output
    assert "Traceback" not in output
    assert {k: v for k, v in snapshot(root).items() if not k.startswith("reports/errors.log")} == {
        k: v for k, v in before.items() if not k.startswith("reports/errors.log")
    }


def test_a_damaged_idmap_stops_the_transform_that_reads_it(pristine, tmp_path):
    root = tmp_path / "staging"
    shutil.copytree(pristine / "raw", root / "raw")
    shutil.copytree(pristine / "idmap", root / "idmap")
    flip_byte(root / "idmap" / "Users.parquet")
    done = m2pg("transform", "--staging", str(root))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert f"{root / 'idmap' / 'Users.parquet'} is not the file extract wrote" in output
    assert "re-run `m2pg extract`" in output and "Traceback" not in output


def catalog(uri: str) -> tuple:
    """Foreign keys and rows of the target, to see that nothing changed."""
    with pg.connect(uri) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")
        keys = cur.fetchone()[0]
        cur.execute("SELECT coalesce(sum(n_live_tup), 0) FROM pg_stat_user_tables")
        return keys, cur.fetchone()[0]


@pytest.mark.parametrize("damage", [flip_byte, truncate], ids=lambda f: f.__name__)
def test_load_stops_before_touching_the_target(pristine, tmp_path, pg_uri, damage):
    root = tmp_path / "staging"
    shutil.copytree(pristine, root)
    assert m2pg("schema", "--pg-uri", pg_uri).returncode == 0
    before = catalog(pg_uri)
    part = root / "clean" / "crm_Contacts" / "part-00002.parquet"
    damage(part)
    done = m2pg("load", "--staging", str(root), "--pg-uri", pg_uri)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert str(part) in output and "re-run `m2pg transform`" in output and "Traceback" not in output
    assert catalog(pg_uri) == before


@pytest.mark.parametrize(
    "name, damage",
    [
        ("raw/Invoices/manifest.json", garble),
        ("clean/Users/manifest.json", garble),
        ("raw/Users/part-00000.parquet", truncate),
        ("clean/Tasks/part-00001.parquet", truncate),
    ],
)
def test_status_names_a_damaged_file_instead_of_crashing(pristine, tmp_path, name, damage):
    root = tmp_path / "staging"
    shutil.copytree(pristine, root)
    damage(root / name)
    done = m2pg("status", "--staging", str(root))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert any("damaged" in line and str(root / name) in line for line in output.splitlines()), output


def test_transform_makes_again_a_clean_part_damaged_since_it_wrote_it(pristine, tmp_path):
    root = tmp_path / "staging"
    shutil.copytree(pristine, root)
    part = root / "clean" / "Invoices" / "part-00001.parquet"
    flip_byte(part)
    done = m2pg("transform", "--staging", str(root))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "parts done 1," in done.stdout, done.stdout
    assert part.read_bytes() == (pristine / "clean" / "Invoices" / "part-00001.parquet").read_bytes()


def first_part(root, folder: str):
    return sorted((root / folder).glob("part-*.parquet"))[0]


READERS = [  # command, folder of the damaged part, how, the stage named to re-run
    ("errors", "quarantine/Invoices", flip_byte, "transform"),
    ("report", "quarantine/Users", truncate, "transform"),
    ("reconcile", "quarantine/Invoices", flip_byte, "transform"),
    ("reconcile", "clean/BoardWatchers", flip_byte, "transform"),
    ("verify", "quarantine/Users", flip_byte, "transform"),
]


@pytest.mark.parametrize(
    "command, folder, damage, rerun", READERS, ids=[f"{c[0]}-{c[1]}-{c[2].__name__}" for c in READERS]
)
def test_a_damaged_part_stops_the_reports_that_read_it(
    pristine, dump, tmp_path, pg_uri, command, folder, damage, rerun
):
    root = tmp_path / "staging"
    shutil.copytree(pristine, root)
    target = ()
    if command in ("reconcile", "verify"):  # a target the staged rows were loaded into, then the damage
        assert m2pg("schema", "--pg-uri", pg_uri).returncode == 0
        assert m2pg("load", "--staging", str(root), "--pg-uri", pg_uri).returncode == 3
        target = ("--pg-uri", pg_uri) + (("--dump", str(dump)) if command == "verify" else ())
    part = first_part(root, folder)
    damage(part)
    done = m2pg(command, "--staging", str(root), *target)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    lines = [line for line in output.splitlines() if str(part) in line]
    assert len(lines) == 1 and f"re-run `m2pg {rerun}`" in lines[0], output
    assert "Traceback" not in output

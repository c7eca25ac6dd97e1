"""The order of the load's work: every commit keeps every foreign key valid, whatever finishes first."""

import random
import re

import polars as pl

from toolkit.stages.changes import DIGEST
from toolkit.stages.load import _batch_digest, keys_of, parents, pointing_at, schedule
from transforms import JUNCTIONS, MODELS

TABLES = [m.table for m in MODELS] + [j.table for j in JUNCTIONS]


def test_each_table_is_named_by_its_key_columns():
    keys = keys_of(MODELS, JUNCTIONS)
    assert list(keys) == TABLES
    assert all(keys[m.table] == ["id"] for m in MODELS)
    assert all(keys[j.table] == [j.left.column, j.right.column] for j in JUNCTIONS)


def test_parents_are_the_tables_the_foreign_keys_point_to():
    needs_of = parents(MODELS, JUNCTIONS)
    assert needs_of["crm_Contacts"] >= {"crm_Accounts", "Users"}
    assert needs_of["Users"] == set()
    assert needs_of["DocumentsToTasks"] == {"Documents", "Tasks"}
    assert all(m.table not in needs_of[m.table] for m in MODELS)  # a self-reference is no wait
    declared = {(m.table, f.references.model) for m in MODELS for f in m.references if f.references.model != m.name}
    assert {(t, p) for t, ps in needs_of.items() for p in ps if t not in {j.table for j in JUNCTIONS}} == declared


def test_every_foreign_key_is_known_by_the_table_it_points_at():
    found = pointing_at(MODELS, JUNCTIONS)
    expected = {(f.references.model, m.table, f.name, ("id",)) for m in MODELS for f in m.references}
    expected |= {
        (side.model, j.table, side.column, (j.left.column, j.right.column))
        for j in JUNCTIONS
        for side in (j.left, j.right)
    }
    assert {(t, c, col, tuple(k)) for t, rows in found.items() for c, col, k in rows} == expected
    assert sum(map(len, found.values())) == len(expected)


def run(jobs: list, waits: dict, seed: int) -> list:
    """The jobs in an order a pool of workers could finish them: any job whose waits are done."""
    done, rng = [], random.Random(seed)
    while len(done) < len(jobs):
        ready = [j for j in jobs if j not in done and waits[j] <= set(done)]
        assert ready, "the jobs wait for each other: nothing can start"
        done.append(rng.choice(ready))
    return done


def test_writes_go_parents_first_and_deletions_children_first():
    order, needs_of = TABLES, parents(MODELS, JUNCTIONS)
    # every foreign key live: each checks its rows
    jobs, waits = schedule(order, needs_of, {}, needs_of, dict.fromkeys(order, 0))
    assert set(jobs) == {(kind, t) for kind in ("load", "delete") for t in order}
    for seed in range(20):
        finished = run(jobs, waits, seed).index
        for table, needs in needs_of.items():
            for parent in needs:
                assert finished(("load", parent)) < finished(("load", table)), (parent, table)
                # a parent's rows go once the child has stopped pointing at them, or is gone itself
                assert finished(("load", table)) < finished(("delete", parent)), (parent, table)
                assert finished(("delete", table)) < finished(("delete", parent)), (parent, table)
            assert finished(("load", table)) < finished(("delete", table))


def test_stored_foreign_keys_go_back_once_every_table_is_loaded():
    needs_of = parents(MODELS, JUNCTIONS)
    stored = {"crm_Contacts": [("fk", "FOREIGN KEY ...", False)], "Orphaned": [("fk", "...", False)]}
    jobs, waits = schedule(TABLES, needs_of, stored, {}, dict.fromkeys(TABLES, 0))
    assert ("restore", "crm_Contacts") in jobs and ("restore", "Orphaned") in jobs
    # no key added while tables load, nor before the table's rows to delete are gone: a bulk load
    # stopped with children written before their parents leaves rows naming parents never loaded,
    # and where both documents are gone since, those rows are deleted, not written again
    assert waits["restore", "crm_Contacts"] == {("load", t) for t in TABLES} | {("delete", "crm_Contacts")}
    assert waits["restore", "Orphaned"] == {("load", t) for t in TABLES}  # a table the app no longer has
    for seed in range(5):
        finished = run(jobs, waits, seed)
        assert max(finished.index(("load", t)) for t in TABLES) < finished.index(("restore", "crm_Contacts"))
        assert finished.index(("delete", "crm_Contacts")) < finished.index(("restore", "crm_Contacts"))


def test_a_batch_is_named_by_what_it_does_to_which_rows():
    rows = pl.DataFrame({"id": ["a", "b"], DIGEST: [1, 2]})
    insert, again = _batch_digest("insert", rows, ["id"]), _batch_digest("insert", rows, ["id"])
    assert re.fullmatch(r"insert:[0-9a-f]{32}:[0-9]{19}", insert), insert
    assert insert.rsplit(":", 1)[0] == again.rsplit(":", 1)[0]
    assert insert != again  # the same rows may be inserted again by a later load
    other = _batch_digest("insert", rows.with_columns(pl.col(DIGEST) + 1), ["id"])
    assert other.split(":")[1] != insert.split(":")[1]
    assert _batch_digest("delete", rows.drop(DIGEST), ["id"]).startswith("delete:")


def test_writes_wait_only_for_the_parents_a_live_foreign_key_checks_and_go_largest_first():
    needs_of = parents(MODELS, JUNCTIONS)
    sizes = {t: n for n, t in enumerate(TABLES)}  # the last table the largest
    jobs, waits = schedule(TABLES, needs_of, {}, {}, sizes)  # a bulk load: every foreign key dropped
    loads = [j for j in jobs if j[0] == "load"]
    assert loads == [("load", t) for t in reversed(TABLES)]
    assert all(waits[j] == set() for j in loads)
    live = {"crm_Contacts": {"crm_Accounts", "Orphaned"}}  # one key put back; a table the app lacks is no wait
    jobs, waits = schedule(TABLES, needs_of, {}, live, sizes)
    assert waits["load", "crm_Contacts"] == {("load", "crm_Accounts")}
    assert all(waits["load", t] == set() for t in TABLES if t != "crm_Contacts")
    for seed in range(5):
        finished = run(jobs, waits, seed).index
        assert finished(("load", "crm_Accounts")) < finished(("load", "crm_Contacts"))
        for table, needs in needs_of.items():  # deletions still go children first
            for parent in needs:
                assert finished(("delete", table)) < finished(("delete", parent)), (parent, table)

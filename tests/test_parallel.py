"""How many worker processes a stage starts: every core from 32 MiB of data, one below, unless chosen."""

import multiprocessing
import os
import signal
import sys
import threading
import types

import polars  # noqa: F401  (sets the allocator setting the workers append to, as in every stage)
import pytest

from toolkit.runtime import parallel
from toolkit.runtime.parallel import workers_for

MIB = 1 << 20


@pytest.mark.parametrize(
    "volume, cores, expected",
    [
        (0, 4, 1),
        (32 * MIB - 1, 4, 1),  # one byte below the threshold
        (32 * MIB, 4, 4),  # at the threshold
        (32 * MIB, 2, 2),
        (10**12, 3, 3),
        (32 * MIB, None, 1),  # a platform that cannot count its cores
    ],
)
def test_the_volume_decides_when_no_number_is_chosen(monkeypatch, volume, cores, expected):
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: cores)
    assert workers_for(volume, None) == expected


@pytest.mark.parametrize(
    "volume, chosen, expected",
    [
        (0, 3, 3),  # more than a small source would get
        (10**12, 1, 1),  # fewer than a large source would get
        (10**12, 5, 5),  # more than the cores
        (10**12, 0, 1),  # never none
        (0, -2, 1),
    ],
)
def test_a_chosen_number_wins_over_the_volume(monkeypatch, volume, chosen, expected):
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 4)
    assert workers_for(volume, chosen) == expected


@pytest.mark.parametrize(
    "cores, workers, expected",
    [(4, 2, 2), (2, 2, 1), (2, 3, 1), (8, 1, 8), (4, 0, 4), (None, 2, 1)],
)
def test_each_worker_gets_its_share_of_the_cores(monkeypatch, cores, workers, expected):
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: cores)
    assert parallel.cores_each(workers) == expected


def _in_workers(names: tuple[str, ...]) -> list:
    """The environment each job sees: `os.getenv(name, progress)` on two worker processes."""
    return parallel.run_jobs([(os.getenv, (name,)) for name in names], 2, None, "test")


def test_workers_share_the_cores_and_give_memory_back_and_the_parent_keeps_its_environment(monkeypatch):
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    monkeypatch.setenv("DUCKDB_JE_MALLOC_CONF", "narenas:2")
    before = dict(os.environ)
    threads, polars_allocator, duckdb_allocator = _in_workers(
        ("POLARS_MAX_THREADS", "_RJEM_MALLOC_CONF", "DUCKDB_JE_MALLOC_CONF")
    )
    assert threads == "1"
    assert polars_allocator.endswith("dirty_decay_ms:0,muzzy_decay_ms:0")  # the last setting wins
    assert polars_allocator.startswith(os.environ["_RJEM_MALLOC_CONF"])  # what polars set here comes first
    assert duckdb_allocator == "narenas:2,dirty_decay_ms:0,muzzy_decay_ms:0"  # the user's stands before ours
    assert dict(os.environ) == before


def test_the_users_thread_count_stands(monkeypatch):
    monkeypatch.setenv("POLARS_MAX_THREADS", "3")
    assert _in_workers(("POLARS_MAX_THREADS", "POLARS_MAX_THREADS")) == ["3", "3"]
    assert os.environ["POLARS_MAX_THREADS"] == "3"


def test_between_jobs_what_outlives_a_job_is_frozen_out_of_later_collections():
    """A worker collects once after each job, then freezes what survived (modules, caches), so the
    next collection walks only what later jobs made; garbage of a job is still collected first."""
    import gc
    import weakref

    class Node:
        pass

    cycle = Node()
    cycle.me = cycle  # garbage only the cycle collector frees
    gone = weakref.ref(cycle)
    kept = [Node() for _ in range(1_000)]
    del cycle
    try:
        parallel._give_back_memory()
        assert gone() is None
        assert gc.get_freeze_count() >= len(kept)
        assert all(o is not kept[0] for o in gc.get_objects())  # frozen: no collection walks it
    finally:
        gc.unfreeze()


def test_stages_within_kept_workers_share_one_pool_until_one_fails(monkeypatch):
    """A worker reads the environment once, when it is spawned: a job that sees the value set
    before an earlier stage ran on a worker that stage started."""
    monkeypatch.setenv("M2PG_PROBE", "before")
    with parallel.kept_workers():
        assert _in_workers(("M2PG_PROBE", "M2PG_PROBE")) == ["before", "before"]
        monkeypatch.setenv("M2PG_PROBE", "after")
        assert _in_workers(("M2PG_PROBE", "M2PG_PROBE")) == ["before", "before"]  # the same workers
        with pytest.raises(TypeError):  # int("x", <progress>): a job that fails ends the pool with it
            parallel.run_jobs([(int, ("x",)), (int, ("y",))], 2, None, "test")
        assert _in_workers(("M2PG_PROBE", "M2PG_PROBE")) == ["after", "after"]
        monkeypatch.setenv("M2PG_PROBE", "later")
    assert parallel._kept == {}
    assert _in_workers(("M2PG_PROBE", "M2PG_PROBE")) == ["later", "later"]  # outside it, a pool per stage


def test_a_kept_pool_told_to_stop_is_not_handed_to_the_next_stage(monkeypatch):
    """A stage whose jobs all ended as it was asked to stop keeps its pool with the stop event set;
    the next stage gets new workers, which run its jobs, instead of workers that skip them all."""
    monkeypatch.setenv("M2PG_PROBE", "before")
    with parallel.kept_workers():
        assert _in_workers(("M2PG_PROBE", "M2PG_PROBE")) == ["before", "before"]
        ((pool, _, stop),) = parallel._kept.values()
        stop.set()
        monkeypatch.setenv("M2PG_PROBE", "after")
        assert _in_workers(("M2PG_PROBE", "M2PG_PROBE")) == ["after", "after"]
        assert parallel._kept[2][0] is not pool


def test_no_more_workers_are_spawned_than_there_are_jobs():
    """`--workers 1000` spawned a thousand processes for 29 collections: minutes of imports
    before the first job, and the memory of a thousand interpreters."""
    with parallel.kept_workers():
        jobs = [(os.getenv, ("PATH",)), (os.getenv, ("PATH",))]
        assert parallel.run_jobs(jobs, 50, None, "test") == [os.environ["PATH"]] * 2
        ((pool, _, _),) = parallel._kept.values()
        assert list(parallel._kept) == [2] and len(pool._pool) == 2


def _ctrl_c_disposition() -> object:
    return signal.getsignal(signal.SIGINT)


def test_workers_start_with_ctrl_c_ignored_and_the_parents_ctrl_c_is_kept():
    """A Ctrl+C reaches the whole process group: one pressed while a spawned worker imported its
    libraries (before its initializer ignores it) killed the worker half-started, with a
    traceback, and the pool's terminate then waited for ever. The parent's own Ctrl+C of that
    moment must not be lost."""
    context = multiprocessing.get_context("spawn")
    pressed, pools = [], []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(True))
    try:
        with parallel._spawned_ignoring_ctrl_c():
            pools.append(context.Pool(1))
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # pressed as the worker starts
            assert pressed == []
        assert pressed == [True]
        pools.append(context.Pool(1))
        ignoring, default = (pool.apply(_ctrl_c_disposition) for pool in pools)
        assert (ignoring, default) == (signal.SIG_IGN, signal.default_int_handler)  # as Python found it
    finally:
        signal.signal(signal.SIGINT, previous)
        for pool in pools:
            pool.terminate()


def test_a_ctrl_c_while_the_command_loads_is_one_line(monkeypatch, capsys):
    """Before the command's handler is installed (about a second of imports), Ctrl+C printed a
    traceback from whichever import it interrupted."""
    from toolkit import start

    def pressed():
        raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "toolkit.cli", types.SimpleNamespace(main=pressed))
    with pytest.raises(SystemExit) as stopped:
        start.main()
    assert stopped.value.code == 130
    assert (
        capsys.readouterr().err == "Stopped at once. Everything written is whole; re-run the same command to resume.\n"
    )

"""Jobs spread over worker processes, so a CPU-bound stage uses every core.

Threads would share one interpreter lock; processes do not. Workers are spawned, never forked,
because polars and Arrow keep thread pools that a fork leaves broken. A worker sends its
progress to the parent's bars through a queue; Ctrl+C in the parent reaches the workers as an
event that `interrupt.check` reads, and the second Ctrl+C stops them at once.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import pyarrow

from toolkit.reports.words import counted
from toolkit.runtime import allocator, interrupt
from toolkit.runtime.collector import collect_less_often
from toolkit.runtime.errors import WorkerLost
from toolkit.runtime.progress import show_notes

Job = tuple[Callable, tuple]
Name = TypeVar("Name", bound=Hashable)
PARALLEL_FROM = 32 << 20  # bytes of data: below this, starting worker processes costs more than it saves


def workers_for(volume: int, workers: int | None) -> int:
    """All cores for `volume` bytes of work or more, one below, unless the caller chose."""
    if workers is not None:
        return max(1, workers)
    return (os.cpu_count() or 1) if volume >= PARALLEL_FROM else 1


def cores_each(workers: int) -> int:
    """The cores one of `workers` processes may give its own thread pools (DuckDB's): more
    threads than cores only take turns, and each keeps buffers of its own."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class _RemoteBars:
    """Stands in for the parent's rich Progress inside a worker: the same two calls, sent home."""

    def __init__(self, messages) -> None:
        self.messages, self.count = messages, 0

    def add_task(self, description: str, total: float | None = None, **fields) -> tuple[int, int]:
        self.count += 1
        key = (os.getpid(), self.count)
        self.messages.put(("add", key, description, total, fields))
        return key

    def update(self, task, advance: float | None = None, **_) -> None:
        self.messages.put(("update", task, advance))


_bars: _RemoteBars | None = None


def _start_worker(messages, stop, parent: int) -> None:
    global _bars
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; a terminal Ctrl+C reaches all
    collect_less_often()
    _die_with(parent)
    interrupt.join_parent(stop, parent)
    _bars = _RemoteBars(messages)
    show_notes()


def _die_with(parent: int) -> None:
    """Where the kernel allows it (Linux), a killed parent takes its workers along: an orphan would
    go on writing into staging beside the run that resumes it."""
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl here: the orphan ends when its job does
        return
    if os.getppid() != parent:  # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGKILL)


_PR_SET_PDEATHSIG = 1


def _call(function: Callable, args: tuple):
    if interrupt.stopping():  # a job not yet begun when the stage was asked to stop
        return _SKIPPED
    try:
        return function(*args, _bars)
    finally:
        _give_back_memory()


def _for_workers(workers: int) -> dict[str, str]:
    """Polars' thread pool sized to the worker's share of the cores, and the allocators of polars
    and DuckDB giving freed pages back at once instead of keeping them for a second: a worker's
    memory is then what its job holds, not the high-water mark of the jobs before it (`allocator`)."""
    return {"POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", str(cores_each(workers)))} | allocator.settings()


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in the environment meanwhile; what was there before, after."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def _give_back_memory() -> None:
    """Between jobs, hand freed memory back to the system: Python's objects, Arrow's pool and the C
    heap each keep what a job freed, so a worker would hold the sum of their largest jobs. What
    outlives a job (modules, the process's caches) is then frozen out of later collections, which
    would otherwise walk every object of polars, DuckDB and numba again after each job."""
    gc.collect()
    gc.freeze()
    release_memory()


def release_memory() -> None:
    """Give the system what Arrow's pool and the C heap keep of what was freed: a job that works
    part after part then holds one part's memory, not the high-water mark of many."""
    pyarrow.default_memory_pool().release_unused()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: its heap gives memory back by itself, or never
        pass


_SKIPPED = "m2pg: job not started"


def _relay(messages, progress, tasks: dict) -> None:
    """Move the workers' progress messages onto the parent's bars."""
    while True:
        try:
            kind, key, *rest = messages.get_nowait()
        except queue.Empty:
            return
        if kind == "add":
            tasks[key] = progress.add_task(rest[0], total=rest[1], **rest[2])
        elif key in tasks:
            progress.update(tasks[key], advance=rest[0])


def run_jobs(jobs: Sequence[Job], workers: int, progress, stage: str) -> list:
    """Each job is (function, args); the function gets `progress` as its last argument.

    Results come back in the order of `jobs`. With one worker the jobs run here, in order.
    A job's error stops the others at their next safe point and is raised here.
    """
    return list(run_graph(dict(enumerate(jobs)), {}, workers, progress, stage).values())


def run_graph(
    jobs: dict[Name, Job], needs: dict[Name, set[Name]], workers: int, progress, stage: str
) -> dict[Name, Any]:
    """Jobs that wait for others: a job starts once every job it `needs` has finished.

    Among the jobs ready to start, the first in the order of `jobs` goes first (put the longest
    first). Results come back by name, in the order of `jobs`. With one worker the jobs run here.
    A job's error stops the others at their next safe point and is raised here.
    """
    unknown = set().union(*needs.values()) - jobs.keys()
    if unknown:
        raise ValueError(f"{stage}: jobs wait for jobs that do not exist: {sorted(map(str, unknown))}")
    workers = min(workers, len(jobs))  # a worker more than the jobs would only be spawned and wait
    if workers <= 1:
        results: dict[Name, Any] = {}
        while len(results) < len(jobs):
            name = _next_ready(jobs, needs, results.keys(), results.keys())
            if name is None:
                raise ValueError(f"{stage}: jobs wait for each other: {[n for n in jobs if n not in results]}")
            function, args = jobs[name]
            results[name] = function(*args, progress)
        return {name: results[name] for name in jobs}
    pool, messages, stop = _pool(workers)
    tasks: dict = {}
    changed: queue.SimpleQueue = queue.SimpleQueue()
    started: dict = {}
    try:
        while True:
            _relay(messages, progress, tasks)
            _check_alive(pool, stage)
            ready = {name: p for name, p in started.items() if p.ready()}  # one look, for every decision below
            if interrupt.requested() or not all(p.successful() for p in ready.values()):
                stop.set()
            finished = {name for name, p in ready.items() if p.successful() and not _skipped(p.get())}
            running = len(started) - len(ready)
            while not stop.is_set() and running < workers:
                name = _next_ready(jobs, needs, started, finished)
                if name is None:
                    break
                started[name] = pool.apply_async(_call, jobs[name], callback=changed.put, error_callback=changed.put)
                running += 1
            if not running:
                if stop.is_set() or len(started) == len(jobs):
                    break
                raise ValueError(f"{stage}: jobs wait for each other: {[n for n in jobs if n not in started]}")
            try:
                changed.get(timeout=0.1)  # a job ended, or time to relay progress
            except queue.Empty:
                pass
        _relay(messages, progress, tasks)
        results = _results(jobs, started, stage)
    except BaseException:  # a failed or stopped stage leaves no workers for the next
        _end(pool, workers)
        raise
    if not _keeping:
        _end(pool, workers)
    return results


_kept: dict[int, tuple] = {}  # workers -> (pool, messages, stop) while `kept_workers` holds them
_keeping = False


@contextmanager
def kept_workers() -> Iterator[None]:
    """Within it, the stages that run jobs on the same number of workers share one pool: a
    spawned worker pays its imports and numba's load once, not once per stage (`m2pg run`)."""
    global _keeping
    _keeping = True
    try:
        yield
    finally:
        _keeping = False
        for workers in list(_kept):
            _end(_kept[workers][0], workers)


def _pool(workers: int) -> tuple:
    """A pool of `workers` spawned processes, with their progress queue and stop event: the one
    kept from an earlier stage when `kept_workers` holds it (unless that stage was asked to stop:
    its workers would skip every job), else a new one."""
    if workers in _kept:
        if not _kept[workers][2].is_set():
            return _kept[workers]
        _end(_kept[workers][0], workers)
    context = multiprocessing.get_context("spawn")
    messages, stop = context.Queue(), context.Event()
    # a spawned worker reads the environment as its libraries load
    with _environment(_for_workers(workers)), _spawned_ignoring_ctrl_c():
        pool = context.Pool(workers, initializer=_start_worker, initargs=(messages, stop, os.getpid()))
    _workers_of[id(pool)] = list(pool._pool)  # type: ignore[attr-defined]
    if _keeping:
        _kept[workers] = (pool, messages, stop)
    return pool, messages, stop


_workers_of: dict[int, list] = {}  # id of a pool -> the worker processes it started with


def _check_alive(pool, stage: str) -> None:
    """Raise WorkerLost when one of the pool's workers died (the kernel's OOM killer, a kill -9):
    the pool would start another in its place, but the job it ran is lost and its result never
    comes, so the command would wait for ever."""
    for process in _workers_of.get(id(pool), ()):
        code = process.exitcode
        if code is not None:
            how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
            hint = " (out of memory? the system log says)" if code == -signal.SIGKILL else ""
            raise WorkerLost(f"{stage}: a worker process (pid {process.pid}) {how}{hint}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@contextmanager
def _spawned_ignoring_ctrl_c() -> Iterator[None]:
    """Processes started inside start with Ctrl+C ignored (an ignored signal stays ignored across
    exec, and Python then leaves it so): one pressed while a worker imports its libraries killed
    it half-started, and the pool's terminate then waited for ever. The main thread blocks it
    meanwhile, so a press of those milliseconds that reaches it is taken after (Linux keeps a
    blocked signal pending); one taken by another thread of the process then is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _end(pool, workers: int) -> None:
    """Stop the pool's processes (a stage that failed or was stopped leaves none for the next)."""
    if _kept.get(workers, (None,))[0] is pool:
        del _kept[workers]
    _workers_of.pop(id(pool), None)
    pool.terminate()
    pool.join()


def _next_ready(jobs: dict, needs: dict, started, finished):
    """The first job, in the order of `jobs`, not yet started and whose needs have all finished."""
    return next((name for name in jobs if name not in started and needs.get(name, set()) <= finished), None)


def _skipped(result) -> bool:
    return isinstance(result, str) and result == _SKIPPED


def _results(jobs: dict, started: dict, stage: str) -> dict:
    """The results by name, or the error that stopped the stage: a real failure before a Ctrl+C."""
    failures = [error for p in started.values() if not p.successful() for error in _raised(p)]
    failures.sort(key=lambda error: isinstance(error, interrupt.Interrupted))
    if failures:
        raise failures[0]
    results = {name: p.get() for name, p in started.items()}
    done = sum(1 for r in results.values() if not _skipped(r))
    if done < len(jobs):
        raise interrupt.Interrupted(
            stage, f"{done} of {counted(len(jobs), 'job')} done", f"{counted(len(jobs) - done, 'job')} not begun"
        )
    return {name: results[name] for name in jobs}


def _raised(result) -> list[BaseException]:
    try:
        result.get()
    except BaseException as error:  # noqa: BLE001 - handed on to the caller unchanged
        return [error]
    return []

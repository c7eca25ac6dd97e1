import gc
import subprocess
import sys

from toolkit.runtime import parallel
from toolkit.runtime.collector import ALLOCATIONS_PER_PASS, collect_less_often


def test_the_youngest_generation_waits_longer_and_the_older_ones_keep_their_ratios():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        collect_less_often()
        assert gc.get_threshold() == (ALLOCATIONS_PER_PASS, 10, 10)
        assert gc.isenabled()  # cycles are still collected
    finally:
        gc.set_threshold(*before)


def _threshold(progress=None) -> tuple[int, int, int]:
    return gc.get_threshold()


def test_the_command_and_every_worker_collect_less_often():
    command = subprocess.run(
        [sys.executable, "-c", "import gc, toolkit.cli; print(gc.get_threshold()[0])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(command.stdout) == ALLOCATIONS_PER_PASS
    workers = parallel.run_jobs([(_threshold, ()), (_threshold, ())], 2, None, "test")
    assert [t[0] for t in workers] == [ALLOCATIONS_PER_PASS] * 2

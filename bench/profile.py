"""`just profile`: where each stage spends its time, the evidence behind the README's bounds.

Runs every stage once on the `large` profile from a dump, each under py-spy (workers included),
and counts the CPU seconds of PostgreSQL's server processes beside m2pg's own. Writes
bench/results/profile.md. Usage: python bench/profile.py [--scale 10] [--top 12]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import M2PG, STAGES, Databases  # noqa: E402
from toolkit.runtime.servers import embedded_postgres  # noqa: E402
from transforms import APP  # noqa: E402

PY_SPY = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
FRAME = re.compile(r"(?P<function>.*) \((?P<file>[^:]*)(:\d+)?\)")


def cpu_seconds(server: psutil.Process) -> float:
    """CPU seconds PostgreSQL has used so far: the postmaster, the backends that have ended
    (the kernel adds theirs to it when it reaps them) and the ones still running."""
    own = server.cpu_times()
    total = own.user + own.system + own.children_user + own.children_system
    for child in server.children():
        try:
            times = child.cpu_times()
        except psutil.Error:  # a backend ending right now
            continue
        total += times.user + times.system
    return total


def postmaster(data_folder: Path) -> psutil.Process:
    return psutil.Process(int((data_folder / "postmaster.pid").read_text().split()[0]))


def frames(raw: Path) -> tuple[Counter, int]:
    """py-spy's collapsed stacks -> samples by innermost function, and the total."""
    own, total = Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        innermost = stack.split(";")[-1]
        found = FRAME.match(innermost)
        name = (
            f"{found['function']} ({Path(found['file']).name})"
            if found
            else "(in a process, outside any Python frame)"
            if innermost.startswith("process ")
            else innermost
        )
        own[name] += int(count)
        total += int(count)
    return own, total


def profile_stage(stage: str, extra: list[str], staging: Path, out: Path, server: psutil.Process) -> dict:
    raw = out / f"{stage}.txt"
    before, started = cpu_seconds(server), time.perf_counter()
    done = subprocess.run(
        [
            PY_SPY,
            "record",
            "--subprocesses",
            "--rate",
            "100",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--",
            *M2PG,
            stage,
            *extra,
            "--staging",
            str(staging),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode not in (0, 3) or not raw.exists():
        sys.exit(f"profile: {stage} failed under py-spy (exit {done.returncode}):\n{done.stderr[-2000:]}")
    own, total = frames(raw)
    return {
        "stage": stage,
        "seconds": time.perf_counter() - started,
        "postgres_cpu": cpu_seconds(server) - before,
        "python_samples": total,
        "top": own.most_common(),
    }


def write(results: list[dict], scale: float, top: int, path: Path) -> None:
    lines = [
        f"# Where the time goes: `large` profile, scale {scale:g}, from a dump",
        "",
        "Each stage ran once under py-spy: 100 samples a second of every m2pg process, workers "
        "included, of the threads that were running (idle ones are left out). PostgreSQL's CPU "
        "seconds are its server processes' own, from the operating system. Produced by "
        "`python bench/profile.py` (`just profile`). Sampling slows the stages down (extract by about a third): "
        "read the shares, not the seconds.",
        "",
    ]
    for r in results:
        lines += [
            f"## {r['stage']}: {r['seconds']:.1f} s; m2pg samples {r['python_samples']:,} "
            f"({r['python_samples'] / 100:.1f} process-seconds); PostgreSQL CPU {r['postgres_cpu']:.1f} s",
            "",
            "| innermost function | share of m2pg's samples |",
            "|---|---:|",
        ]
        lines += [f"| `{name}` | {count / max(r['python_samples'], 1):.0%} |" for name, count in r["top"][:top]]
        lines.append("")
    path.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=10)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    if PY_SPY is None:
        sys.exit("profile: py-spy is not installed; `pip install -e '.[bench]'` brings it")
    with tempfile.TemporaryDirectory(prefix="m2pg-profile-") as folder:
        work = Path(folder)
        dump = work / "dump"
        subprocess.run(
            [*M2PG, "generate", "large", "--scale", str(args.scale), "--dump-out", str(dump)],
            check=True,
            capture_output=True,
        )
        with embedded_postgres(work / "pg", APP.database) as base_uri:
            uri = Databases(base_uri).fresh()
            server = postmaster(work / "pg")
            staging = work / "staging"
            extra = {"extract": ["--dump", str(dump)], "load": ["--pg-uri", uri], "reconcile": ["--pg-uri", uri]}
            results = [profile_stage(s, extra.get(s, []), staging, work, server) for s in STAGES]
    out = HERE / "results" / "profile.md"
    write(results, args.scale, args.top, out)
    print(out.read_text())


if __name__ == "__main__":
    main()

"""`just mutate`: mutation testing of the functions that carry the migration's promises, and its
report, tests/mutation/report.md.

mutmut (configured in pyproject.toml) changes one operator, constant or call at a time in a copy
of toolkit/ under mutants/ and runs the fast unit tests that reach the changed function; a mutant
no test notices has survived. A survivor is either a missing test or a change that alters
nothing the code promises: those are listed, with the reason, in tests/mutation/equivalent.py.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tomllib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "mutation"))
from equivalent import EQUIVALENT  # noqa: E402

TARGETS = {  # module of toolkit/ -> the functions whose mutants count ("*": all of them)
    "ids": ["*"],  # the ID function
    "rules": ["*"],
    "transform": [
        "_reference",
        "clean_rows",
        "_value",
        "_uuid_lists",
        "_dangling",
        "feed_pairs",
        "is_among",
        "_position",
        "junction_places",
        "uuid_slices",
    ],  # references, defaults, junctions
    "extract": ["parts", "_joined", "_resumable"],  # resume: which checkpoint counts, whole parts
    "sources": ["resume_point", "id_queries", "resume_index", "changes"],  # resume: where reading starts again
    "verify": [
        "canonical_json",
        "_canonical",
        "_int",
        "_millis",
        "_is_int",
        "expected_value",
        "same",
        "as_text",
        "canonical_sql",
        "type_issue",
        "json_shape",
        "one_sided",
        "show",
    ],
    "reconcile": [
        "measure",
        "parquet_files",
        "parquet_rows",
        "owned",
        "migration_rows",
        "model_rows",
        "refused",
        "total_rows",
        "model_counts",
        "junction_counts",
        "model_row",
        "junction_row",
        "orphan_check",
        "reasons",
        "_with_error",
    ],  # counts, differences, verdicts
    "changes": ["*"],  # what a load writes: inserts, updates, deletions from the rows' digests
    "unchanged": ["*"],  # which staged parts a trusted catch-up keeps unread
    "load": ["keys_of", "parents", "pointing_at", "schedule", "_batch_digest"],  # the ledger's batches, the order
    # of writes and deletions, when stored foreign keys go back
}
PLACES = {
    "ids": ("documents.ids",),
    "rules": ("stages.rules",),
    "transform": (
        "stages.transform.judge",
        "stages.transform.rows",
        "documents.lookup",
        "stages.transform.junctions",
    ),
    "extract": ("stages.extract",),
    "sources": ("sources.readers",),
    "verify": ("stages.verify.oracle", "stages.verify.compare", "stages.verify.integrity"),
    "reconcile": ("stages.reconcile",),
    "changes": ("stages.changes",),
    "unchanged": ("sources.unchanged",),
    "load": ("stages.load",),
}
"""Each module of TARGETS (named as the equivalent mutants' keys name it) -> the modules under
toolkit/ its functions now live in."""
MUTMUT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
KILLED = {"killed"}  # a timeout (the tests hung) is listed, not counted: on a busy machine it may be the machine
REPORT = ROOT / "tests" / "mutation" / "report.md"


def patterns(modules: list[str]) -> list[str]:
    return [
        f"toolkit.{place}.*" if name == "*" else f"toolkit.{place}.x_{name}__mutmut_*"
        for module in modules
        for place in PLACES[module]
        for name in TARGETS[module]
    ]


def parts(mutant: str) -> tuple[str, str]:
    """(the module as TARGETS names it, the mutated function's name) of a mutant's name,
    toolkit.<package>.<module>.x_<function>__mutmut_<n>."""
    dotted, function = mutant.removeprefix("toolkit.").rsplit(".", 1)
    short = {place: module for module, places in PLACES.items() for place in places}
    return short.get(dotted, dotted), function.split("__mutmut_")[0]


def source_files(module: str) -> list[str]:
    return [f"toolkit/{place.replace('.', '/')}.py" for place in PLACES[module]]


def file_of(mutant: str) -> str:
    """The source file a mutant changes."""
    return "toolkit/" + mutant.removeprefix("toolkit.").rsplit(".", 1)[0].replace(".", "/") + ".py"


def wanted(mutant: str) -> bool:
    module, function = parts(mutant)
    names = TARGETS.get(module, [])
    return "*" in names or any(function in (f"x_{n}", f"xǁ{n}") for n in names)


def forget_plain_copies() -> None:
    """mutmut copies every file of toolkit/ into mutants/ and mutates a file again only when its
    source is newer than the copy: a module added to TARGETS after a run would stay unmutated."""
    for file in (f for module in TARGETS for f in source_files(module)):
        copy = ROOT / "mutants" / file
        if copy.exists() and not copy.with_name(copy.name + ".meta").exists():
            copy.unlink()


def run(workers: int, names: list[str]) -> None:
    """mutmut tests every mutant named (or matched by a pattern) again, whatever its last verdict."""
    forget_plain_copies()
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    subprocess.run([mutmut, "run", "--max-children", str(workers), *names], cwd=ROOT, check=False)


def results() -> dict[str, str]:
    """Every mutant's status, from mutmut's own records under mutants/."""
    os.chdir(ROOT)
    from mutmut.__main__ import SourceFileMutationData, walk_mutatable_files
    from mutmut.stats import status_by_exit_code

    out = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        out |= {name: status_by_exit_code[code] for name, code in data.exit_code_by_key.items() if wanted(name)}
    return out


def function_lines(path: Path) -> dict[str, int]:
    """Where each top-level function and method starts (its `def`, decorators aside)."""
    lines = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ClassDef):
            lines |= {
                f"xǁ{node.name}ǁ{item.name}": item.lineno for item in node.body if isinstance(item, ast.FunctionDef)
            }
        elif isinstance(node, ast.FunctionDef) and node.col_offset == 0:
            lines[f"x_{node.name}"] = node.lineno
    return lines


def change(mutant: str) -> tuple[int | None, str, str]:
    """(line in the source file, the line as written, the line as mutated)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    function = parts(mutant)[1]
    path = ROOT / file_of(mutant)
    diff = get_diff_for_mutant(mutant, path=file_of(mutant))
    start = function_lines(path).get(function)
    removed = added = ""
    line = None
    at = 0
    for text in diff.splitlines():
        hunk = re.match(r"@@ -(\d+)", text)
        if hunk:
            at = int(hunk.group(1))
        elif text.startswith("-") and not text.startswith("---"):
            removed, line = removed or text[1:].strip(), line or at
            at += 1
        elif text.startswith("+") and not text.startswith("+++"):
            added = added or text[1:].strip()
        elif at:
            at += 1
    # the diff counts from the function's first line; its decorators are not mutated
    return (start + line - 1 if start and line else None), removed, added


def signature(mutant: str, removed: str, added: str) -> str:
    module, function = parts(mutant)
    return f"{module}.{function[2:].replace('ǁ', '.')}: {removed} -> {added}"  # x_name or xǁClassǁname


def tree_state() -> str:
    """The commit, and which of the files this run reads differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout

    read = (
        [f for module in TARGETS for f in source_files(module)]
        + ["tests/mutation/", "pyproject.toml"]
        + MUTMUT["pytest_add_cli_args_test_selection"]
    )
    changed = sorted(line[3:] for line in git("status", "--porcelain", "--", *read).splitlines() if line.strip())
    others = len(
        [
            line
            for line in git("status", "--porcelain", "--", "toolkit", "transforms").splitlines()
            if line[3:] not in changed
        ]
    )
    return (
        f"commit {git('rev-parse', '--short', 'HEAD').strip() or '(none)'}; "
        + (f"uncommitted changes in {', '.join(changed)}" if changed else "the files it reads as committed")
        + (f"; {others} other files of toolkit/ and transforms/ uncommitted" if others else "")
    )


def report(statuses: dict[str, str]) -> str:
    rows, survivors, equivalent, unused, unchecked = Counter(), [], [], set(EQUIVALENT), Counter()
    for mutant, status in sorted(statuses.items()):
        module = parts(mutant)[0]
        rows[module, "tried"] += 1
        if status in KILLED:
            rows[module, "killed"] += 1
            continue
        if status == "not checked":
            rows[module, status] += 1
            unchecked[file_of(mutant)] += 1
            continue
        line, removed, added = change(mutant)
        key = signature(mutant, removed, added)
        where = f"{file_of(mutant)}:{line}"
        if key in EQUIVALENT and status == "survived":
            rows[module, "equivalent"] += 1
            unused.discard(key)
            equivalent.append((where, removed, added, EQUIVALENT[key]))
        else:
            rows[module, status] += 1
            survivors.append((where, status, removed, added, mutant))
    lines = [
        "# Mutation testing",
        "",
        f"`just mutate` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {tree_state()}.",
        "",
        "Each mutant is one small change to one function (an operator, a constant, a call, a string);",
        "the fast unit tests that reach that function run against it. *Killed*: a test failed (or",
        "hung: *timeout*). *Survived*: every test passed, so either a test is missing or the change",
        "alters nothing the code promises; the latter are *equivalent*, each with its reason in",
        "`tests/mutation/equivalent.py`. Score: killed / (tried - equivalent).",
        "",
        "| module | functions | tried | killed | equivalent | survived | other | score |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    total = Counter()
    for module, names in TARGETS.items():
        tried, killed, same = rows[module, "tried"], rows[module, "killed"], rows[module, "equivalent"]
        other = tried - killed - same - rows[module, "survived"]
        total.update(
            {"tried": tried, "killed": killed, "equivalent": same, "survived": rows[module, "survived"], "other": other}
        )
        score = f"{100 * killed / (tried - same):.1f}%" if tried > same else "-"
        lines.append(
            f"| {module} | {'all' if names == ['*'] else ', '.join(names)} | {tried} | {killed} | {same} | "
            f"{rows[module, 'survived']} | {other} | {score} |"
        )
    score = total["killed"] / (total["tried"] - total["equivalent"]) if total["tried"] > total["equivalent"] else 0
    lines += [
        f"| **all** | | {total['tried']} | {total['killed']} | {total['equivalent']} | {total['survived']} | "
        f"{total['other']} | **{100 * score:.1f}%** |",
        "",
    ]
    lines += ["## Not killed", "", "| where | status | line | mutated to |", "|---|---|---|---|"]
    lines += [f"| {w} | {s} | `{r}` | `{a}` |" for w, s, r, a, _ in survivors] or ["| (none) | | | |"]
    if unchecked:
        lines += [
            "",
            "Not checked yet (`just mutate MODULE` tests one module's mutants): "
            + ", ".join(f"{n} in {path}" for path, n in sorted(unchecked.items()))
            + ".",
        ]
    lines += [
        "",
        "## Equivalent (survive, change nothing promised)",
        "",
        "| where | line | mutated to | why |",
        "|---|---|---|---|",
    ]
    lines += [f"| {w} | `{r}` | `{a}` | {why} |" for w, r, a, why in equivalent] or ["| (none) | | | |"]
    if unused:
        lines += [
            "",
            "Listed as equivalent but not found among this run's survivors (killed now, or the code moved):",
            "",
        ] + [f"- `{key}`" for key in sorted(unused)]
    return "\n".join(lines).replace("|`", "| `") + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument("--report-only", action="store_true", help="rewrite the report from the last run")
    parser.add_argument(
        "modules",
        nargs="*",
        metavar="MODULE",
        help=f"test only these modules' mutants this time: {', '.join(TARGETS)} (default: all)",
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="test again only the mutants that survived the last run (after adding tests)",
    )
    parser.add_argument(
        "--unchecked", action="store_true", help="test only the mutants not tested yet (after an interrupted run)"
    )
    args = parser.parse_args()
    unlisted = [f for module in TARGETS for f in source_files(module) if f not in MUTMUT["only_mutate"]]
    if unlisted:
        parser.error(
            f"add {', '.join(unlisted)} to only_mutate in pyproject.toml's [tool.mutmut], "
            "and the fast tests that reach it to pytest_add_cli_args_test_selection"
        )
    if set(args.modules) - set(TARGETS):
        parser.error(f"no such module among {', '.join(TARGETS)}: {', '.join(set(args.modules) - set(TARGETS))}")
    if args.survivors or args.unchecked:
        wanted_now = {"not checked"} if args.unchecked else set(results().values()) - KILLED - {"not checked"}
        names = [
            name
            for name, status in results().items()
            if status in wanted_now and (not args.modules or parts(name)[0] in args.modules)
        ]
        if names:
            run(args.workers, names)
    elif not args.report_only:
        run(args.workers, patterns(args.modules or list(TARGETS)))
    text = report(results())
    REPORT.write_text(text)
    print(text[: text.index("## Not killed")])


if __name__ == "__main__":
    main()

"""The README's code map is the tree: every module of toolkit/ is named there, and nothing else."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def code_map() -> str:
    """The README's bullet on `toolkit/` (the bullets after it are the app's and the tests')."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout of the code", 1)[1].split("\n## ", 1)[0]
    return section.split("\n- `toolkit/`", 1)[1].split("\n- ", 1)[0]


def test_every_module_is_on_the_map_and_the_map_names_no_other():
    tree = {
        str(p.relative_to(ROOT / "toolkit"))
        for p in (ROOT / "toolkit").rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    }
    named = set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)`", code_map()))
    assert tree - named == set(), "modules the README's code map leaves out"
    assert named - tree == set(), "modules the README's code map names that do not exist"


def test_every_package_is_on_the_map_in_the_order_data_moves():
    packages = sorted(p.parent.name for p in (ROOT / "toolkit").glob("*/__init__.py"))
    order = [m for m in re.findall(r"`([a-z_]+)/`", code_map()) if m in packages]
    assert sorted(order) == packages
    flow = ["declarations", "sources", "documents", "staging", "stages", "target", "runtime", "reports"]
    assert [p for p in order if p in flow] == flow

"""Progress bars have a known total: extract from a dump counts against each file's size."""

from rich.progress import Progress

from toolkit.generate import sample as generate
from toolkit.runtime.progress import tracked
from toolkit.sources.readers import DumpSource
from toolkit.stages.extract import extract_collection
from toolkit.staging.layout import Staging, write_json
from transforms import APP, JUNCTIONS, MODELS


def test_extract_from_a_dump_has_a_known_total_and_reaches_it(tmp_path):
    folder = generate.write_dump(tmp_path / "dump", "nextcrm", generate.sample(APP, 7))
    staging = Staging(tmp_path / "staging")
    write_json({"run": "one"}, staging.root / "raw" / "run.json")
    with Progress(disable=True) as progress:
        for model in MODELS:
            extract_collection(DumpSource(tmp_path / "dump"), staging, model, JUNCTIONS, 1000, progress)
    sizes = {m.source: (folder / f"{m.source}.bson").stat().st_size for m in MODELS}
    assert {t.description: (t.total, t.completed) for t in progress.tasks} == {c: (s, s) for c, s in sizes.items()}


def test_tracked_yields_every_item_in_order_whatever_its_kind():
    assert list(tracked(["a", "b"], "validate", str)) == ["a", "b"]
    assert list(tracked(iter([1, 2, 3]), "reconcile")) == [1, 2, 3]
    assert list(tracked(iter([1, 2]), "reconcile", total=2)) == [1, 2]

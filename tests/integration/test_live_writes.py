"""An extract from a live server that the app keeps writing to: the documents read before a write
are staged as they were, so the run may not say the target equals the source as it holds it now.
The server's write counters, asked before and after the extract, tell whether it was written."""

import io

from pymongo import MongoClient
from rich.console import Console

from toolkit.generate import sample as generate
from toolkit.reports.console import print_run
from toolkit.sources.readers import MongoSource
from toolkit.stages.extract import extract, written_since
from toolkit.staging.layout import Staging
from transforms import APP

DB = "nextcrm_written"


class WrittenWhileRead(MongoSource):
    """The server as the app keeps writing to it: after the first batch of every collection is
    handed over, one document read in it is renamed (a real write, on the same server)."""

    def chunks(self, collection, batch_size, after=None, limit=None):
        for n, chunk in enumerate(super().chunks(collection, batch_size)):
            yield chunk
            if n == 0 and collection == "crm_Accounts":
                with MongoClient(self.uri) as app:
                    first = app[DB][collection].find_one(sort=[("_id", 1)])
                    app[DB][collection].update_one({"_id": first["_id"]}, {"$set": {"name": "renamed meanwhile"}})


def verdict(report: dict) -> str:
    console = Console(file=io.StringIO(), width=1000, color_system=None)
    load = dict.fromkeys(("rows", "inserted", "updated", "deleted", "deleted_refused", "unchanged", "left_changed"), 0)
    print_run({**load, "inserted": 1}, 0, console, written=report.get("written_while_read"))
    return console.file.getvalue()


def test_writes_while_the_extract_reads_take_back_the_claim_of_now(mongo_uri, tmp_path):
    generate.write_mongo(mongo_uri, DB, generate.demo_dataset(APP, 7))
    report = extract(WrittenWhileRead(mongo_uri, DB), Staging(tmp_path), APP.models, APP.junctions, 50, workers=1)
    assert report["written_while_read"]["writes"] == 1, report.get("written_while_read")
    said = verdict(report)
    assert "the target equals the source as read, not as it may be now" in said, said
    assert "the server took 1 write since the extract began reading it" in said, said
    assert "as the source holds it now" not in said


def test_an_extract_nothing_wrote_during_keeps_the_claim_of_now(mongo_uri, tmp_path):
    report = extract(MongoSource(mongo_uri, "nextcrm"), Staging(tmp_path), APP.models, APP.junctions, 50, workers=1)
    assert "written_while_read" not in report
    assert "as the source holds it now" in verdict(report)


def test_a_write_after_the_extract_is_seen_by_the_runs_verdict(mongo_uri, tmp_path):
    """The app wrote while the run transformed and loaded: the target is not the source as it is
    now either. `m2pg run` asks the counters again before its last line."""
    source = MongoSource(mongo_uri, "nextcrm")
    report = extract(source, Staging(tmp_path), APP.models, APP.junctions, 50, workers=1)
    assert written_since(source, report["server_writes"]) is None
    with MongoClient(mongo_uri) as app:
        app["nextcrm"]["Tasks"].delete_one({"_id": app["nextcrm"]["Tasks"].find_one()["_id"]})
    written = written_since(source, report["server_writes"])
    assert written is not None and written["writes"] == 1, written
    assert "as read, not as it may be now" in verdict({"written_while_read": written})

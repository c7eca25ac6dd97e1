"""A live MongoDB stores dates outside years 1-9999 (the embedded server does not, see
stack-facts), and one may be an `_id` a part ends with: a resume after it asks the server for
the dates after it, and a trusted catch-up reads the part's bounds, instead of failing to read
the checkpoint."""

import pytest
from bson.datetime_ms import DatetimeMS
from bson.json_util import CANONICAL_JSON_OPTIONS, dumps

from toolkit.sources.readers import Position, id_queries, unresumable
from toolkit.sources.unchanged import last_ids


@pytest.mark.parametrize("millis", [253402300800000, -62135596800001, 10**15])  # 10000-01-01, before year 1
def test_a_resume_after_a_date_id_no_datetime_holds_reads_the_dates_after_it(millis):
    last = dumps(DatetimeMS(millis), json_options=CANONICAL_JSON_OPTIONS)
    assert not unresumable(last)
    rest, later = id_queries(Position(10, last))
    assert rest == {"_id": {"$type": ["date"], "$gt": DatetimeMS(millis)}}
    assert "date" not in later["_id"]["$type"] and "timestamp" in later["_id"]["$type"]
    assert last_ids([{"last_id": last}]) is None  # not ObjectIds: the collection is read whole

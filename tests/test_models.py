"""Every model's transform: generated documents become rows equal to an independent per-value oracle."""

import json

import bson
import polars as pl
import pytest
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.json_util import RELAXED_JSON_OPTIONS, dumps

from toolkit.declarations.spec import NOW, Kind
from toolkit.documents.decode import decode_chunk
from toolkit.documents.ids import idmap_frame, uuid_for
from toolkit.generate import sample as generate
from toolkit.stages.extract import feeds_of
from toolkit.stages.transform.judge import judge
from toolkit.stages.transform.outcome import Outcome
from toolkit.stages.transform.rows import clean_rows
from transforms import APP, ENUMS, JUNCTIONS, MODELS

MS = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_MS)


@pytest.fixture(scope="module")
def sample():
    return generate.sample(APP, 7)


@pytest.fixture(scope="module")
def outcome(sample):
    state = Outcome()
    for m in MODELS:
        ids = pl.Series([str(d["_id"]) for d in sample[m.source]], dtype=pl.String)
        frame = idmap_frame(m.source, ids)
        state.kept[m.name] = frame.select("object_id", "id")
        state.quarantined[m.name] = pl.Series([], dtype=pl.String)
        state.idmaps[m.source] = frame["object_id"].sort()
    return state


def millis(value) -> int:
    return bson.decode(bson.encode({"v": value}), MS)["v"]._value


def expected(field, document):
    value = document.get(field.key)
    if value is None:
        if field.kind in (Kind.TEXT_LIST, Kind.UUID_LIST):
            return []
        if field.optional or field.default is None:
            return None
        return millis(document["_id"].generation_time) if field.default == NOW else field.default
    return {
        Kind.OBJECT_ID: lambda v: uuid_for(str(v)),
        Kind.UUID_LIST: lambda v: [uuid_for(str(x)) for x in v],
        Kind.DATETIME: millis,
        Kind.INT: int,
        Kind.JSON: lambda v: json.loads(dumps(v, json_options=RELAXED_JSON_OPTIONS)),
    }.get(field.kind, lambda v: v)(value)


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_model_transform_matches_the_oracle(model, sample, outcome):
    documents = [d for d in sample[model.source] if d["_id"] is not None]
    raw = pl.from_arrow(decode_chunk(b"".join(map(bson.encode, documents)), model, feeds_of(model, JUNCTIONS)))
    judged = judge(raw, model, ENUMS, outcome)
    assert judged["problems"].list.len().sum() == 0, judged.filter(pl.col("problems").list.len() > 0)["problems"][0]
    rows = clean_rows(judged, model, lambda c: outcome.idmaps[c], {"dangling_ids": {}})
    assert rows.columns == [f.name for f in model.fields] + ["_object_id"]
    rows = rows.with_columns(pl.col(pl.Datetime).cast(pl.Int64))
    for document, row in zip(documents, rows.to_dicts(), strict=True):
        for field in model.fields:
            got = row[field.name]
            if field.kind is Kind.JSON and got is not None:
                got = json.loads(got)
            assert got == expected(field, document), (model.name, document["_id"], field.name)

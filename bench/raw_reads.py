"""The server's own pace: every collection read sorted by `_id` with `find_raw_batches`, no
decoding, nothing written; the peer of `m2pg extract` from a server.

Usage: python bench/raw_reads.py MONGO_URI DATABASE  (prints the documents read)
"""

import sys

from bson import CodecOptions, decode_all
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

RAW = CodecOptions(document_class=RawBSONDocument)  # counting the documents of a batch decodes none


def read_all(uri: str, database: str) -> int:
    db = MongoClient(uri)[database]
    return sum(
        len(decode_all(batch, RAW))
        for name in sorted(db.list_collection_names())
        for batch in db[name].find_raw_batches({}, sort=[("_id", 1)])
    )


if __name__ == "__main__":
    print(read_all(sys.argv[1], sys.argv[2]))

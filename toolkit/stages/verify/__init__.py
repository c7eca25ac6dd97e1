"""Verify: the source, read again, against the live PostgreSQL database, in four layers.

Independent of the transform: every source document is mapped to the row it should have become
by a small per-kind oracle over the declarations (the quarantine only says which documents are
expected absent), then PostgreSQL is checked against it: counts, records (a seeded sample, or
every row through per-row hashes in DuckDB), referential integrity, and types. Each collection
is read once, a chunk at a time, into Parquet in a folder of the run's own; each table is then
checked from those files, and both kinds of job share the cores (`run.py`).
"""

from toolkit.stages.verify.failures import LAYERS

__all__ = ["LAYERS"]  # the run is in `run.py`: the report's layers without DuckDB or psycopg

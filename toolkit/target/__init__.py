"""The PostgreSQL target: connections, DDL and catalog, DuckDB over it, extra indexes and queries,
checks before a load.
"""

"""What each stage returns and writes to reports/<stage>.json: one typed shape per stage, so the
commands, the HTML report and the tests read the same keys the stages write (mypy checks both
sides). The per-collection and per-table entries stay plain dicts: their keys are the manifests'."""

from __future__ import annotations

from typing import NotRequired, TypedDict


class ExtractReport(TypedDict):
    source: str
    collections: list[dict]  # each collection's manifest
    documents: int
    parts_resumed: int
    parts_written: int
    parts_unread: int  # kept from the previous extract unread: a server vouched for them (--trust-updated-at)
    documents_unread: int
    trusted_since: NotRequired[str]  # the start of the extract the kept parts were read by, or vouched for since
    # a live server's collections whose parts an interrupted run staged, kept by the resume as read
    # then: {"since": when that run started, "collections": [...]}
    read_before_interruption: NotRequired[dict]
    # a live server's write counters when the extract began reading: {"since": when, "before":
    # their sum, or why the server cannot say}; and, if it took writes while read or cannot say,
    # {"since", "writes": how many its counters rose by, or None and "unknown": why}
    server_writes: NotRequired[dict]
    written_while_read: NotRequired[dict]
    not_migrated: dict  # collections and fields of the source the app does not declare


class TransformReport(TypedDict):
    collections: list[dict]
    junctions: list[dict]
    documents: int
    clean: int
    quarantined: int
    parts_skipped: int
    parts_done: int
    rules_version: str
    raw_version: str


class ValidateReport(TypedDict):
    ok: bool
    failures: int
    tables: dict[str, dict]
    skipped: int


class LoadReport(TypedDict):
    target: str
    tables: list[dict]
    rows: int
    inserted: int
    updated: int
    deleted: int
    deleted_refused: int  # of the deleted, rows whose documents a rule now refuses (quarantined)
    unchanged: int
    left_changed: int  # rows m2pg wrote that someone else changed or deleted since, left as they are
    foreign_keys_restored: int  # stored foreign keys put back by this load


class PlanReport(TypedDict):
    target: str
    tables: list[dict]
    insert: int
    update: int
    delete: int
    delete_refused: int  # of those to delete, rows whose documents a rule now refuses (quarantined)
    unchanged: int
    left_changed: int  # rows someone else changed or deleted since m2pg wrote them that a load would leave
    quarantined: NotRequired[int]  # added by the command, from transform's report
    stop: NotRequired[str]  # where and why a load would stop (before writing anything, or at its deletions)


class ReconcileReport(TypedDict):
    ok: bool
    database: str
    tables: list[dict]
    orphans: list[dict]
    unfinished_load: NotRequired[str | None]  # when the last load began (UTC), if it has not finished


class VerifyReport(TypedDict):
    status: str  # "pass" or "fail"
    summary: dict
    layers: dict[str, dict]
    tables: dict[str, dict]
    not_migrated: NotRequired[dict | None]  # added by the command

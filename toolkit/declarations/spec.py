"""Declarations of models, fields and junctions: the one place every stage reads.

An app declares a `ModelSpec` per model; extract, rules, pandera, DDL and
reconciliation are all derived from it, so a fact about a model is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """The value kinds a MongoDB field can hold; their types stage by stage are `toolkit.declarations.kinds.KINDS`."""

    OBJECT_ID = "ObjectId"  # single ObjectId -> uuid
    TEXT = "String"
    INT = "Int"
    BOOL = "Boolean"
    DATETIME = "DateTime"
    JSON = "Json"
    ENUM = "Enum"
    TEXT_LIST = "String[]"
    UUID_LIST = "ObjectId[]"  # array of ObjectIds kept as a uuid[] column


NOW = "now()"
"""Default of a DateTime field: the document's creation time, taken from its ObjectId."""


@dataclass(frozen=True)
class Reference:
    """A foreign key: the column holds the id of a document of `model`."""

    model: str
    on_delete: str = "SET NULL"
    on_update: str = "CASCADE"


@dataclass(frozen=True)
class Field:
    """One column of a table, read from one key of a MongoDB document."""

    name: str
    kind: Kind
    optional: bool = False
    default: object = None
    enum: str | None = None
    references: Reference | None = None
    points_to: str | None = None  # model an ObjectId with no foreign key names, for reports
    unique: bool = False
    source: str | None = None  # MongoDB key, when it differs from the column name
    client_type: str | None = None  # the app's client's type, where the app's migration made another

    @property
    def parent(self) -> Reference:
        """The reference of a field that has one (every field of `ModelSpec.references`)."""
        if self.references is None:
            raise ValueError(f"{self.name} references no model")
        return self.references

    @property
    def enum_name(self) -> str:
        """The enum of an Enum field (the App checks that every one declares an enum it knows)."""
        if self.enum is None:
            raise ValueError(f"{self.name} declares no enum")
        return self.enum

    @property
    def key(self) -> str:
        """The key this field is stored under in MongoDB."""
        return self.source or self.name

    @property
    def required(self) -> bool:
        """Required fields quarantine their record when missing; lists never do."""
        return not self.optional and self.default is None and self.kind not in LIST_KINDS

    @property
    def nullable(self) -> bool:
        """Whether the PostgreSQL column admits NULL (Prisma makes list columns nullable)."""
        return self.optional or self.kind in LIST_KINDS


LIST_KINDS = frozenset({Kind.TEXT_LIST, Kind.UUID_LIST})
ID = Field("id", Kind.OBJECT_ID, source="_id")


@dataclass(frozen=True)
class ModelSpec:
    """A MongoDB collection and the PostgreSQL table it becomes."""

    name: str
    fields: tuple[Field, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    collection: str | None = None  # the MongoDB collection, where the source schema's @@map renames it
    table_name: str | None = None  # the PostgreSQL table, where the target schema's @@map renames it
    updated_at: tuple[str, ...] = ()  # fields the app's client sets on every write (Prisma's @updatedAt)

    @property
    def source(self) -> str:
        return self.collection or self.name

    @property
    def table(self) -> str:
        return self.table_name or self.name

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def references(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.references)

    def declared(self, enums: Mapping[str, tuple[str, ...]]) -> str:
        """The declaration as text, with the values of the enums its fields take: what its staged
        results are made from, so a declaration changed between runs has them made again."""
        used = sorted({f.enum: tuple(enums.get(f.enum, ())) for f in self.fields if f.enum}.items())
        return f"{self!r} enums={used!r}"


@dataclass(frozen=True)
class Side:
    """One end of a junction: its column and the model whose ids it holds."""

    column: str
    model: str


@dataclass(frozen=True)
class Feed:
    """An array of ObjectIds in `model`.`key` whose elements are ids of the junction's other side."""

    model: str
    key: str


@dataclass(frozen=True)
class Junction:
    """A many-to-many table filled from arrays of ObjectIds stored on either side (or both)."""

    table: str
    left: Side
    right: Side
    feeds: tuple[Feed, ...] = field(default=())

    def side_of(self, model: str) -> tuple[Side, Side]:
        """(side holding the array's owner, side holding the array's elements)."""
        return (self.left, self.right) if self.left.model == model else (self.right, self.left)

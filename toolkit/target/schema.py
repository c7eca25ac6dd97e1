"""The PostgreSQL target schema: DDL derived from the declarations, and the live catalog.

The DDL reproduces what the app's Prisma migration creates, so a target made by either is the
same catalog; `read_catalog` gives that catalog in one comparable shape, and `check_target`
says before any row is written why a target would reject the load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from toolkit.declarations.kinds import KINDS
from toolkit.declarations.limits import derived_name, index_name
from toolkit.declarations.spec import NOW, Field, Junction, Kind, ModelSpec
from toolkit.reports.words import are, counted
from toolkit.target.postgres import connect

CONSTRAINT_KINDS = {"p": "primary key", "f": "foreign key", "u": "unique", "c": "check"}
"""pg_constraint.contype spelled as the catalog file spells it; others (NOT NULL: "n") kept as is."""


def quote(name: str) -> str:
    """Always quote: Prisma's names are mixed case and some are reserved words ("user", "type")."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- DDL ------------------------------------------------------------------------------------


def pg_type(field: Field) -> str:
    """The type as the catalog names it (precision apart); an enum is the field's own type."""
    own = KINDS[field.kind].pg_type
    return f'"{field.enum_name}"' if own is None else own


def ddl_type(field: Field) -> str:
    """The type as CREATE TABLE spells it: `timestamp(3)`, as Prisma's migration does."""
    precision = KINDS[field.kind].precision
    return f"timestamp({precision})" if precision is not None else pg_type(field)


def column_default(field: Field) -> str | None:
    """The SQL DEFAULT clause value Prisma gives a declared default."""
    value = field.default
    if value is None:
        return None
    if value == NOW:
        return "CURRENT_TIMESTAMP"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return literal(str(value))


def column_sql(field: Field) -> str:
    default = column_default(field)
    return " ".join(
        filter(
            None,
            (
                quote(field.name),
                ddl_type(field),
                None if field.nullable else "NOT NULL",
                default and f"DEFAULT {default}",
            ),
        )
    )


def create_table(table: str, columns: Iterable[str], key: Sequence[str]) -> str:
    pkey = f"CONSTRAINT {quote(derived_name(table, 'pkey'))} PRIMARY KEY ({', '.join(map(quote, key))})"
    return f"CREATE TABLE {quote(table)} (\n  " + ",\n  ".join([*columns, pkey]) + "\n)"


def create_index(table: str, columns: Sequence[str], unique: bool = False) -> str:
    return (
        f"CREATE {'UNIQUE ' if unique else ''}INDEX {quote(index_name(table, columns, unique))} "
        f"ON {quote(table)} ({', '.join(map(quote, columns))})"
    )


def secondary_indexes(models: Sequence[ModelSpec], junctions: Sequence[Junction]) -> dict[str, dict[str, str]]:
    """Table -> {name: CREATE INDEX} of the plain (not unique) indexes, which a bulk load
    may drop and build again afterwards: one sort instead of a tree insert per row."""
    out = {m.table: {index_name(m.table, cols): create_index(m.table, cols) for cols in m.indexes} for m in models}
    for j in junctions:
        out[j.table] = {index_name(j.table, (s.column,)): create_index(j.table, (s.column,)) for s in (j.left, j.right)}
    return out


def foreign_key(table: str, column: str, target: str, on_delete: str, on_update: str) -> str:
    return (
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(derived_name(f'{table}_{column}', 'fkey'))} "
        f"FOREIGN KEY ({quote(column)}) REFERENCES {quote(target)} ({quote('id')}) "
        f"ON DELETE {on_delete} ON UPDATE {on_update}"
    )


def model_statements(model: ModelSpec, tables: dict[str, str]) -> tuple[list[str], ...]:
    """(CREATE TABLE, indexes, foreign keys) of one model."""
    table = create_table(model.table, map(column_sql, model.fields), ("id",))
    indexes = [create_index(model.table, cols) for cols in model.indexes]
    unique = [create_index(model.table, (f.name,), unique=True) for f in model.fields if f.unique]
    fkeys = [
        foreign_key(model.table, f.name, tables[f.parent.model], f.parent.on_delete, f.parent.on_update)
        for f in model.references
    ]
    return [table], indexes + unique, fkeys


def junction_statements(junction: Junction, tables: dict[str, str]) -> tuple[list[str], ...]:
    """(CREATE TABLE, indexes, foreign keys) of a many-to-many table; both sides cascade."""
    sides = (junction.left, junction.right)
    columns = [f"{quote(s.column)} uuid NOT NULL" for s in sides]
    table = create_table(junction.table, columns, [s.column for s in sides])
    indexes = [create_index(junction.table, (s.column,)) for s in sides]
    fkeys = [foreign_key(junction.table, s.column, tables[s.model], "CASCADE", "CASCADE") for s in sides]
    return [table], indexes, fkeys


def ddl(models: Sequence[ModelSpec], junctions: Sequence[Junction], enums: Mapping[str, Sequence[str]]) -> list[str]:
    """Statements creating the whole target: types, tables, indexes, then foreign keys, so
    that the order of the declarations does not matter."""
    tables = {m.name: m.table for m in models}
    types = [f"CREATE TYPE {quote(name)} AS ENUM ({', '.join(map(literal, labels))})" for name, labels in enums.items()]
    parts = [model_statements(m, tables) for m in models] + [junction_statements(j, tables) for j in junctions]
    return types + [s for phase in range(3) for part in parts for s in part[phase]]


def create_schema(
    pg_uri: str, models: Sequence[ModelSpec], junctions: Sequence[Junction], enums: Mapping[str, Sequence[str]]
) -> None:
    """Create the target in one transaction: a failure leaves the database untouched."""
    with connect(pg_uri) as conn, conn.cursor() as cur:
        for statement in ddl(models, junctions, enums):
            cur.execute(statement)
        conn.commit()


def client_drift(models: Sequence[ModelSpec]) -> str | None:
    """One line naming the columns whose type the app's client declares otherwise than its
    migration creates them (a drift of the app's own, which the target follows), or None."""
    drift = [(m.table, f) for m in models for f in m.fields if f.client_type]
    if not drift:
        return None
    names = ", ".join(f"{table}.{f.name}" for table, f in drift)
    kinds = sorted({f"{f.client_type} in the app's client, {pg_type(f)} in its migration" for _, f in drift})
    return (
        f"{counted(len(drift), 'column')} {are(len(drift))} {'; '.join(kinds)} ({names}): the app's writes beyond the "
        "column's range will fail; the target follows the migration"
    )


# --- Live catalog ---------------------------------------------------------------------------

COLUMNS_SQL = """
SELECT c.table_name::text, c.column_name::text,
       CASE WHEN c.domain_name IS NOT NULL THEN c.domain_name
            WHEN c.data_type IN ('ARRAY', 'USER-DEFINED') THEN c.udt_name ELSE c.data_type END::text,
       c.data_type = 'ARRAY', c.column_default::text, c.is_nullable = 'YES', c.datetime_precision::text
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_catalog, table_schema, table_name)
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name, c.ordinal_position
"""
"""Each column of the public tables; a column of a domain has the domain's name as its type (its
base type is what information_schema gives as data_type), as its constraints may refuse a row."""

UNFILLED_SQL = """
SELECT table_name::text, column_name::text FROM information_schema.columns
WHERE table_schema = 'public' AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'
  AND is_generated = 'NEVER'
"""
"""Columns an INSERT naming only other columns cannot fill."""

CONSTRAINTS_SQL = """
SELECT r.relname::text, k.conname::text, k.contype::text, pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class r ON r.oid = k.conrelid
JOIN pg_namespace n ON n.oid = r.relnamespace
WHERE n.nspname = 'public'
"""

INDEXES_SQL = """
SELECT tablename::text, indexname::text, indexdef FROM pg_indexes WHERE schemaname = 'public'
"""

ENUMS_SQL = """
SELECT t.typname::text, e.enumlabel::text
FROM pg_enum e
JOIN pg_type t ON t.oid = e.enumtypid
JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public'
ORDER BY t.typname, e.enumsortorder
"""


REFUSERS_SQL = """
SELECT r.relname::text, k.conname::text, CASE k.contype WHEN 'c' THEN 'check' ELSE 'exclusion' END || ' constraint',
       NULL::text[]
FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid
WHERE r.relnamespace = 'public'::regnamespace AND k.contype IN ('c', 'x')
UNION ALL
SELECT r.relname::text, i.relname::text, 'unique index',
       CASE WHEN x.indpred IS NULL AND x.indexprs IS NULL THEN
         array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)
               ORDER BY a.attname::text COLLATE "C") END
FROM pg_index x JOIN pg_class r ON r.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
WHERE r.relnamespace = 'public'::regnamespace AND x.indisunique
"""
"""Each check or exclusion constraint and unique index of the public tables, with a plain unique
index's columns (NULL for one over expressions or rows)."""


def foreign_refusers(cur, models: Sequence[ModelSpec], junctions: Sequence[Junction]) -> list[str]:
    """The constraints and unique indexes of the app's tables that its schema does not declare
    (Prisma makes no check constraint): each may refuse rows the app takes, halfway through a
    load whose foreign keys are dropped by then."""
    declared = {(table, tuple(columns)) for table, kind, columns, _ in declared_keys(models, junctions) if kind in "pu"}
    tables = set(declared_columns(models, junctions))
    return [
        f'{kind} "{name}" on "{table}" is not the app\'s: it may refuse rows the app takes'
        for table, name, kind, columns in fetch(cur, REFUSERS_SQL)
        if table in tables and (columns is None or (table, tuple(columns)) not in declared)
    ]


def fetch(cur, sql: str) -> list[tuple]:
    cur.execute(sql)
    return cur.fetchall()


def read_catalog(pg_uri: str) -> dict:
    """The live `public` schema as target-catalog.json shapes it: columns in table order,
    constraints and indexes by name (code point order, so the result does not depend on the
    database's collation)."""
    with connect(pg_uri) as conn, conn.cursor() as cur:
        columns, constraints, indexes, labels = [
            fetch(cur, sql) for sql in (COLUMNS_SQL, CONSTRAINTS_SQL, INDEXES_SQL, ENUMS_SQL)
        ]
    tables: dict[str, dict[str, list]] = {
        name: {"columns": [], "constraints": [], "indexes": []} for name in sorted({row[0] for row in columns})
    }
    for table, name, type_, array, default, nullable, precision in columns:
        tables[table]["columns"].append(
            {
                "array": array,
                "default": default,
                "name": name,
                "nullable": nullable,
                "precision": precision,
                "type": type_,
            }
        )
    for table, name, kind, definition in sorted(constraints, key=lambda r: r[1]):
        if table in tables:
            tables[table]["constraints"].append(
                {"definition": definition, "kind": CONSTRAINT_KINDS.get(kind, kind), "name": name}
            )
    for table, name, definition in sorted(indexes, key=lambda r: r[1]):
        if table in tables:
            tables[table]["indexes"].append({"definition": definition, "name": name})
    enums: dict[str, list[str]] = {}
    for name, label in labels:
        enums.setdefault(name, []).append(label)
    return {"enums": dict(sorted(enums.items())), "tables": tables}


# --- Checks before loading ------------------------------------------------------------------


def has_schema(pg_uri: str, models: Sequence[ModelSpec], junctions: Sequence[Junction]) -> bool:
    """Whether the target already holds any declared table, so creating the schema would clash."""
    declared = {m.table for m in models} | {j.table for j in junctions}
    with connect(pg_uri) as conn, conn.cursor() as cur:
        live = {row[0] for row in fetch(cur, COLUMNS_SQL)}
    return bool(declared & live)


def catalog_type(field: Field) -> str:
    """A declared type as information_schema names it ("_text" for text[], bare enum names)."""
    if field.kind is Kind.ENUM:
        return field.enum_name
    type_ = pg_type(field)
    return "_" + type_.removesuffix("[]") if type_.endswith("[]") else type_


def catalog_precision(field: Field) -> str | None:
    """The precision as information_schema gives it (text, like target-catalog.json)."""
    precision = KINDS[field.kind].precision
    return None if precision is None else str(precision)


def declared_columns(models: Sequence[ModelSpec], junctions: Sequence[Junction]) -> dict:
    """{table: {column: (type, nullable, precision)}} for every table the load writes to."""
    tables = {m.table: {f.name: (catalog_type(f), f.nullable, catalog_precision(f)) for f in m.fields} for m in models}
    tables |= {j.table: {s.column: ("uuid", False, None) for s in (j.left, j.right)} for j in junctions}
    return tables


def column_problems(table: str, declared: dict, live: dict) -> list[str]:
    problems = []
    for column, (type_, nullable, precision) in declared.items():
        where = f'column "{table}"."{column}"'
        if column not in live:
            problems.append(f"{where} is missing")
            continue
        live_type, live_nullable, live_precision = live[column]
        if live_type != type_:
            problems.append(f"{where} has type {live_type}, declared {type_}")
        elif live_precision != precision:
            problems.append(f"{where} has precision {live_precision}, declared {precision}")
        if live_nullable != nullable:
            problems.append(nullability_problem(table, column, live_nullable, nullable))
    return problems


def nullability_problem(table: str, column: str, live: bool, declared: bool) -> str:
    says = {True: "nullable", False: "NOT NULL"}
    return f'column "{table}"."{column}" is {says[live]}, declared {says[declared]}'


KEYS_SQL = """
SELECT r.relname::text, CASE WHEN x.indisprimary THEN 'p' ELSE 'u' END,
       array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = x.indrelid AND a.attnum = ANY (x.indkey)
             ORDER BY a.attname::text COLLATE "C"), NULL
FROM pg_index x JOIN pg_class r ON r.oid = x.indrelid
WHERE r.relnamespace = 'public'::regnamespace AND x.indisunique AND x.indpred IS NULL AND x.indexprs IS NULL
  AND (x.indisvalid OR NOT {valid})
UNION ALL
SELECT r.relname::text, 'f',
       array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
             ORDER BY a.attname::text COLLATE "C"), f.relname::text
FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid
WHERE r.relnamespace = 'public'::regnamespace AND k.contype = 'f' AND (k.convalidated OR NOT {valid})
"""
DEFERRED = "m2pg.deferred_constraints"  # the foreign keys a load dropped, until it puts them back
SET_ASIDE = "m2pg.set_aside_indexes"  # the plain indexes a bulk load dropped, as the target defined them
DEFERRED_KEYS_SQL = f"""
SELECT d.table_name, k[1], k[2] FROM {DEFERRED} d,
  regexp_match(replace(d.definition, '"', ''), '^FOREIGN KEY \\((.+?)\\) REFERENCES (.+?)\\(') k
"""


def declared_keys(models: Sequence[ModelSpec], junctions: Sequence[Junction]) -> list[tuple[str, str, tuple, str]]:
    """(table, kind, columns, referenced table) of each primary key, unique index and foreign
    key the app's schema has: what keeps its rows whole, which the load relies on and keeps."""
    tables = {m.name: m.table for m in models}
    keys: list[tuple[str, str, tuple, str]] = []
    for m in models:
        keys.append((m.table, "p", ("id",), ""))
        keys.extend((m.table, "u", (f.name,), "") for f in m.fields if f.unique)
        keys.extend((m.table, "f", (f.name,), tables[f.parent.model]) for f in m.references)
    for j in junctions:
        keys.append((j.table, "p", tuple(sorted((j.left.column, j.right.column))), ""))
        keys.extend((j.table, "f", (s.column,), tables[s.model]) for s in (j.left, j.right))
    return keys


def _keys(cur, valid_only: bool) -> set[tuple[str, str, tuple, str]]:
    rows = fetch(cur, KEYS_SQL.format(valid=str(valid_only).lower()))
    return {(table, kind, tuple(columns), target or "") for table, kind, columns, target in rows}


def live_keys(cur) -> set[tuple[str, str, tuple, str]]:
    """The target's keys in `declared_keys`' shape; a foreign key an interrupted load keeps in
    its store to put back counts as there."""
    found = _keys(cur, valid_only=False)
    cur.execute(f"SELECT to_regclass({literal(DEFERRED)}) IS NOT NULL")
    if cur.fetchone()[0]:
        found |= {(table, "f", (column,), target) for table, column, target in fetch(cur, DEFERRED_KEYS_SQL)}
    return found


def key_problem(table: str, kind: str, columns: tuple, target: str) -> str:
    listed = ", ".join(f'"{c}"' for c in columns)
    return {
        "p": f'the primary key of "{table}" ({listed}) is missing',
        "u": f'the unique index on "{table}" ({listed}) is missing',
        "f": f'the foreign key "{table}".{listed} -> "{target}" is missing',
    }[kind]


def unguarded(cur, models: Sequence[ModelSpec], junctions: Sequence[Junction]) -> dict[str, list[str]]:
    """Per table, what of the app's schema guards its rows and the target lacks: a primary key,
    unique index or foreign key, in force (one a stopped load keeps in its store, an index left
    invalid or a key not validated guards nothing), and each column's NOT NULL as declared. The
    app reads a database that must keep them; a missing column or table is the types' to name."""
    keys = _keys(cur, valid_only=True)
    nullable = {(table, column): live for table, column, _, _, _, live, _ in fetch(cur, COLUMNS_SQL)}
    problems: dict[str, list[str]] = {}
    for table, columns in declared_columns(models, junctions).items():
        for column, (_, declared, _) in columns.items():
            live = nullable.get((table, column))
            if live is not None and live != declared:
                problems.setdefault(table, []).append(nullability_problem(table, column, live, declared))
    present = {table for table, _ in nullable}
    for key in declared_keys(models, junctions):
        if key[0] in present and key not in keys:
            problems.setdefault(key[0], []).append(key_problem(*key))
    return problems


def check_target(
    pg_uri: str,
    models: Sequence[ModelSpec],
    junctions: Sequence[Junction],
    enums: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Why the target would reject the load (missing table or column, other type or
    nullability, with `enums`: an enum of a declared column without a value the app declares, as
    an older migration made it; a constraint or unique index of the target's own, which may refuse
    a row) or hold rows the app's schema forbids (a missing key, unique index or foreign key),
    found before any row is written; [] when it matches the declarations."""
    with connect(pg_uri) as conn, conn.cursor() as cur:
        rows = fetch(cur, COLUMNS_SQL)
        keys = live_keys(cur)
        unfilled = set(fetch(cur, UNFILLED_SQL))
        labels = fetch(cur, ENUMS_SQL)
        refusers = foreign_refusers(cur, models, junctions)
    live: dict[str, dict] = {}
    for table, column, type_, _array, _default, nullable, precision in rows:
        live.setdefault(table, {})[column] = (type_, nullable, precision)
    problems = []
    for table, columns in declared_columns(models, junctions).items():
        if table not in live:
            problems.append(f'table "{table}" is missing')
            continue
        problems.extend(column_problems(table, columns, live[table]))
        problems.extend(
            f'column "{table}"."{column}" is not the app\'s, and NOT NULL with no default: no row m2pg writes fills it'
            for column in live[table]
            if column not in columns and (table, column) in unfilled
        )
    live_labels: dict[str, set[str]] = {}
    for name, label in labels:
        live_labels.setdefault(name, set()).add(label)
    used = sorted({f.enum for m in models if m.table in live for f in m.fields if f.kind is Kind.ENUM and f.enum})
    for name in used:
        lacking = [label for label in (enums or {}).get(name, ()) if label not in live_labels.get(name, set())]
        if name in live_labels and lacking:
            problems.append(
                f'enum "{name}" lacks the app\'s {"value" if len(lacking) == 1 else "values"} '
                f"{', '.join(map(literal, lacking))} (a row holding one would be refused halfway through the load)"
            )
    return (
        problems
        + [key_problem(*key) for key in declared_keys(models, junctions) if key[0] in live and key not in keys]
        + refusers
    )

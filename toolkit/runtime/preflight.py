"""Checks before a command writes anything: URIs that can be read, a source that holds the
app's collections, a staging folder that exists, can be written and holds the stage's inputs.
Each failed check is one line naming what is wrong and what to run or fix."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote

from toolkit.runtime.errors import ConfigError, EnvironmentFailure
from toolkit.runtime.redact import split_uri, without_credentials
from toolkit.staging.layout import Staging, read_json, transform_predates_extract

MONGO_SCHEMES = ("mongodb", "mongodb+srv")
PG_SCHEMES = ("postgresql", "postgres")
_UNESCAPED = re.compile(r"[@/?#\[\]]|%(?![0-9A-Fa-f]{2})")
ENCODE_HINT = (
    "percent-encode the user name and password (@ is %40, : is %3A, % is %25), e.g. "
    "python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=\"\"))' PASSWORD"
)
SHOWN = 8  # names listed in a message before "and N more"


def variable(option: str) -> str:
    """The environment variable that gives an option (--pg-uri: M2PG_PG_URI)."""
    return "M2PG_" + option.strip("-").replace("-", "_").upper()


def from_environment(message: str, arguments: list[str], environ=os.environ) -> str:
    """The options a message names that the command line leaves out and an M2PG_ variable gives,
    said as such (unless the message names the variable): a script's fix is then in what it
    exports, not on its command line."""
    given = {argument.split("=", 1)[0] for argument in arguments}
    options = dict.fromkeys(re.findall(r"--[a-z][a-z-]*[a-z]", message))
    taken = [
        f"{option} is {variable(option)}"
        for option in options
        if option not in given and environ.get(variable(option)) and variable(option) not in message
    ]
    return f" ({', '.join(taken)} in the environment)" if taken else ""


def need(value: str | None, option: str) -> str:
    """The value of an option the command cannot do without."""
    if not value:
        env = variable(option)
        if os.environ.get(env) == "":  # `export M2PG_PG_URI=$UNSET_VARIABLE`: the option reads as not given
            raise ConfigError(
                f"{option} is required, and {env} is set to nothing", hint=f"give {env} a value, or pass {option}"
            )
        raise ConfigError(f"{option} is required", hint=f"pass {option} or set {env}")
    return value


def one_of(first: tuple[str, str | None, object], second: tuple[str, str | None, object]) -> ConfigError:
    """The error for two options that exclude each other, both given: each as (option, its
    environment variable or None, value). One exported earlier (as `m2pg servers` suggests) and
    forgotten is the usual cause, so the error names a variable holding the value and says to
    unset it."""
    exported = [v for _, v, value in (first, second) if v and os.environ.get(v) == str(value)]
    message = f"give either {first[0]} or {second[0]}, not both"
    if not exported:
        return ConfigError(message, hint="leave one of them out")
    said = " and ".join(exported) + (" is" if len(exported) == 1 else " are")
    kept = [option for option, variable, _ in (first, second) if variable not in exported]
    hint = f"unset {exported[0]} to use {kept[0]}" if kept else "unset one of them"
    return ConfigError(f"{message} ({said} set in the environment)", hint=hint)


PATTERN_CHARACTERS = "*?[]"


def pattern_characters(path: Path) -> list[str]:
    """The characters of the path that a Parquet reader takes for a file pattern."""
    return [c for c in PATTERN_CHARACTERS if c in str(path.absolute())]


def usable_path(path: Path | None) -> Path | None:
    """A path the system can look up. One holding a name of over 255 bytes (or over 4095 bytes in
    all) made `exists()` raise, and every command given it as a folder ended in a traceback."""
    if path is None:
        return None
    try:
        path.exists()
    except OSError as error:
        too_long = error.errno == errno.ENAMETOOLONG
        raise ConfigError(
            f"its path {path} cannot be looked up: {error.strerror}",
            hint="choose a shorter path: at most 255 bytes a name, 4095 in all"
            if too_long
            else "check the path, and that its folders can be read",
        ) from None
    return path


def plain_folder(folder: Path | None) -> Path | None:
    """A folder, or a path where one can be made, whose whole path holds none of `*?[]`: Polars and
    DuckDB read staged Parquet by path and take those characters for a pattern, so a part in such
    a folder is not found. Nor may the path start with `~`, which they take for the home folder
    (DuckDB for any leading `~`) while Python's own file operations take it as it is."""
    if folder is None:
        return None
    usable_path(folder)
    if str(folder).startswith("~"):
        raise ConfigError(
            f"its path {folder} starts with ~, which m2pg does not expand (the shell does, unquoted) but the "
            "Parquet readers take for the home folder, so the staged parts would not be where m2pg looks",
            hint="write the home folder out ($HOME/...), or the full path ($PWD/~...) of a folder named ~...",
        )
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a folder", hint="pass a folder (it is made if missing)")
    taken = pattern_characters(folder)
    if taken:
        raise ConfigError(
            f"its path {folder.absolute()} holds {' '.join(taken)}, which the Parquet readers take for a file pattern",
            hint="choose a folder whose path holds none of * ? [ ]",
        )
    return folder


def check_uri(uri: str, server: str, schemes: tuple[str, ...], option: str) -> None:
    """A URI the driver can read: the right scheme, and a user name and password whose special
    characters are percent-encoded. The URI is shown without its credentials."""
    parts = split_uri(uri)
    if parts is None or parts.scheme.lower() not in schemes:
        raise ConfigError(
            f"{option} {without_credentials(uri)} is not a {server} URI",
            hint=f"it starts with {' or '.join(s + '://' for s in schemes)}",
        )
    userinfo = parts.userinfo or ""
    if _UNESCAPED.search(userinfo) or userinfo.count(":") > 1:
        raise ConfigError(
            f"{option} {without_credentials(uri)} cannot be read: its user name or password "
            "holds a character that must be percent-encoded",
            hint=ENCODE_HINT,
        )


NOT_IN_DATABASE_NAMES = '/\\. "$\x00'


def database_name(name: str | None, given_as: str = "--mongo-db") -> str | None:
    """A name MongoDB takes for a database (and a dump for its folder): not empty, none of
    / \\ . space " $ or NUL, at most 63 bytes. pymongo refused the others with a traceback, and a
    dump's folder named `../x` was written outside --dump-out."""
    if name is None:
        return None
    if not name or len(name.encode()) > 63 or any(c in name for c in NOT_IN_DATABASE_NAMES):
        raise ConfigError(
            f"{given_as} {name!r} is not a MongoDB database name",
            hint='a name of 1 to 63 bytes without / \\ . space " $ or NUL',
        )
    return name


def mongo_database(uri: str, given: str | None) -> str:
    """The database to read: --mongo-db, else the one the URI names after its hosts
    (`mongodb://host/nextcrm`, as mongodump and mongosh take it)."""
    parts = split_uri(uri)
    named = unquote(re.split(r"[?#]", parts.rest.partition("/")[2], maxsplit=1)[0]) if parts else ""
    if given or not named:
        return need(given, "--mongo-db")
    return database_name(named, "the database of --mongo-uri") or named


def mongo_uri(uri: str) -> None:
    check_uri(uri, "MongoDB", MONGO_SCHEMES, "--mongo-uri")


def pg_uri(uri: str) -> None:
    check_uri(uri, "PostgreSQL", PG_SCHEMES, "--pg-uri")


def as_drivers_read(uri: str | None) -> str | None:
    """The URI as libpq and pymongo read it: without the whitespace around it (a pasted line's
    newline, which libpq took into the database's name, or a leading space, after which it read
    the URI as `key=value` pairs) and with its scheme in lower case, which RFC 3986 allows in any
    case but the drivers take only in lower case. Both stopped with a message contradicting the
    URI shown beside it."""
    if uri is None:
        return None
    uri = uri.strip()
    scheme, sep, rest = uri.partition("://")
    if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return f"{scheme.lower()}://{rest}"
    return uri


def without_prisma_schema(uri: str | None) -> str | None:
    """The app's own DATABASE_URL pasted as --pg-uri: Prisma's URIs name their schema
    (`?schema=public`), a parameter libpq refuses. Naming `public`, where the app's migration
    creates its tables and m2pg migrates them, it is left out; another schema is refused, since
    m2pg would write where that app does not read."""
    if not uri or "?" not in uri:
        return uri
    base, _, query = uri.partition("?")
    pieces = query.split("&")
    named = {unquote(p.partition("=")[2]) for p in pieces if p.partition("=")[0] == "schema"}
    if not named:
        return uri
    if named != {"public"}:
        raise ConfigError(
            f"--pg-uri names the schema {', '.join(sorted(named))} (Prisma's ?schema=): m2pg migrates the app's "
            "tables into public, where its migration creates them",
            hint="point the app at schema public, or leave ?schema= out of --pg-uri",
        )
    kept = "&".join(p for p in pieces if p.partition("=")[0] != "schema")
    return f"{base}?{kept}" if kept else base


def listed(names, shown: int = SHOWN) -> str:
    names = list(names)
    if not names:
        return "nothing"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


# --- the source -------------------------------------------------------------------------------


def source_holds_app(src, models) -> list[str]:
    """Stop when the source holds none of the app's collections (a mistyped --mongo-db, the wrong
    dump), naming what it does hold; return notes on options the source ignores."""
    notes = _dump_database(src)
    declared = [m.source for m in models]
    present = set(src.collections())
    if present & set(declared):
        views = {n: on for n, on in (src.views() if hasattr(src, "views") else {}).items() if n in declared}
        if views:  # what a view shows is its pipeline's output: a subset or a reshaping, never written by the app
            raise ConfigError(
                f"{src.describe()}: the app's collection {listed(f'{n} is a view on {on}' for n, on in views.items())}"
                ", not a collection: what it shows is computed by its pipeline (a dump holds none of it)",
                hint="point --mongo-db at the database that holds the app's own collections",
            )
        return notes
    holds = sorted(present)
    if hasattr(src, "databases"):
        databases = src.databases()
        raise ConfigError(
            f"{src.describe()} holds none of the {len(declared)} collections the app declares "
            f"({listed(declared, 3)}); "
            + (f"it holds {listed(holds)}" if holds else "it does not exist or is empty")
            + f"; the server's databases: {listed(databases)}",
            hint="check --mongo-db",
        )
    raise ConfigError(
        f"{src.describe()} holds none of the {len(declared)} collections the app declares "
        f"({listed(declared, 3)}); its files hold {listed(holds)}",
        hint="pass the folder mongodump wrote for the app's database (--dump, --mongo-db)",
    )


def _dump_database(src) -> list[str]:
    """A dump read whole while --mongo-db names another database is an error: the option would
    otherwise be ignored without a word."""
    wanted, folder, given = getattr(src, "database", None), getattr(src, "folder", None), getattr(src, "path", None)
    if not wanted or folder is None or given is None or Path(folder).name == wanted:
        return []
    if Path(folder) != Path(given):
        raise ConfigError(
            f"--mongo-db {wanted}: the dump {given} holds no database {wanted} (it holds {Path(folder).name})",
            hint=f"pass --mongo-db {Path(folder).name}, or leave it out",
        )
    return [f"note: --mongo-db {wanted} is not used: {given} holds the files of one database"]


# --- the staging folder -----------------------------------------------------------------------


def writable_staging(root: Path, create: bool) -> None:
    """The folder can be written (checked by writing, as permissions do not tell for every user
    or file system); created first when the command starts a staging folder."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--staging {root} is a file, not a folder", hint="pass a folder")
    if not root.exists():
        if not create:
            return  # the stage's own check names what to run first
        try:
            root.mkdir(parents=True)
        except OSError as error:
            raise EnvironmentFailure(
                f"cannot create the staging folder {root}: {error.strerror}",
                hint="choose a folder you can write, or fix its parent's permissions",
            ) from None
    for folder in [root, *(p for p in root.glob("*") if p.is_dir()), *(p for p in root.glob("*/*") if p.is_dir())]:
        try:
            with tempfile.TemporaryFile(dir=folder, prefix=".m2pg-write-check-"):
                pass
        except OSError as error:
            raise EnvironmentFailure(
                f"cannot write to the staging folder {folder}: {error.strerror}",
                hint="make it writable (or free space), then re-run the same command",
            ) from None


STAGE_BEFORE = {
    "transform": "extract",
    "validate": "transform",
    "errors": "transform",
    "verify": "transform",
    "reconcile": "transform",
}


def staging_inputs(root: Path, stage: str) -> None:
    """What `stage` reads was staged, by the stage before it, in this folder."""
    before = STAGE_BEFORE[stage]
    run_first = f"run `m2pg {before} --staging {root}` first"
    if not Path(root).exists():
        raise ConfigError(f"{stage}: the staging folder {root} does not exist", hint=f"check --staging, or {run_first}")
    staging = Staging(Path(root))
    if before == "extract":
        run = staging.root / "raw" / "run.json"
        if not run.exists():
            raise ConfigError(f"{stage}: {root} holds no extract (raw/run.json is missing)", hint=run_first)
        if not read_json(run).get("complete"):
            raise ConfigError(
                f"{stage}: the extract into {root} did not finish",
                hint="re-run `m2pg extract` with the same options to finish it",
            )
    elif not staging.report(f"{before}.json").exists():
        raise ConfigError(
            f"{stage}: {root} holds no {before} output (reports/{before}.json is missing)", hint=run_first
        )
    elif before == "transform":  # as load checks too
        from toolkit.stages.transform.fingerprint import refused  # not above: the stages import this module

        if transform_predates_extract(staging):
            raise ConfigError(
                f"{stage}: the transform output in {root} predates the last extract "
                "(its clean rows and quarantine are of the data staged before)",
                hint=run_first,
            )
        refusal = refused(staging, stage)
        if refusal:
            raise refusal

# Common tasks; `just --list` shows them.

venv := ".venv/bin"

# Create the virtual environment and install m2pg with its test tools
install:
    python3.11 -m venv .venv
    {{venv}}/pip install -e '.[dev]'

# Migrate a generated NextCRM dataset between embedded servers (exit 3, records quarantined on purpose, is success)
demo *ARGS:
    {{venv}}/m2pg demo {{ARGS}} || [ $? -eq 3 ]

# Embedded MongoDB-compatible server and PostgreSQL for trying the stages by hand (Ctrl+C stops them)
servers *ARGS:
    {{venv}}/m2pg servers {{ARGS}}

# The whole test suite (unit and embedded-server tests) on every core, each test file on one worker
test *ARGS:
    {{venv}}/python -m pytest -q -n auto --dist loadfile {{ARGS}}

# Lint, format check and type check (what .ci/run and pre-commit run before the tests)
lint:
    {{venv}}/ruff check .
    {{venv}}/ruff format --check .
    {{venv}}/mypy

# Unit tests only (no server)
unit *ARGS:
    {{venv}}/python -m pytest -q -n auto --dist loadfile tests --ignore=tests/integration {{ARGS}}

# Benchmark on the large profile at scales 1 and 10, with the hardware limit and the peers
bench *ARGS:
    {{venv}}/pip install --quiet -e '.[dev,bench]'
    {{venv}}/python bench/bench.py {{ARGS}}

# Where each stage spends its time at scale 10 (py-spy, PostgreSQL CPU): bench/results/profile.md
profile *ARGS:
    {{venv}}/pip install --quiet -e '.[dev,bench]'
    {{venv}}/python bench/profile.py {{ARGS}}

# Read every row of a database through NextCRM's own Prisma 7 client (Node.js 20): just app-check postgresql://...
app-check $DATABASE_URL=env_var_or_default("DATABASE_URL", ""):
    @cd tests/app && { [ -d node_modules ] || npm ci --ignore-scripts --no-audit --no-fund; } \
      && { [ generated/dmmf.json -nt schema.prisma ] && [ node_modules/.prisma/client/index.js -nt schema.prisma ] || npm run --silent generate >/dev/null; } \
      && node check.mjs

# Mutation testing of the functions that keep the migration's promises (mutmut, one worker by
# default; --workers N for more): writes tests/mutation/report.md
mutate *ARGS:
    {{venv}}/pip install --quiet -e '.[dev,mutate]'
    {{venv}}/python tests/mutation/mutate.py {{ARGS}}

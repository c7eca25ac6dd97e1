# Common tasks; `just --list` shows them.

venv := ".venv/bin"

# Create the virtual environment and install m2pg with its test tools
install:
    python3.11 -m venv .venv
    {{venv}}/pip install -e '.[dev]'

# Migrate a generated NextCRM dataset between embedded servers
demo:
    {{venv}}/m2pg demo

# Run the whole test suite (unit and embedded-server integration tests)
test:
    {{venv}}/python -m pytest -q

# Unit tests only (no server)
unit:
    {{venv}}/python -m pytest -q tests --ignore=tests/integration

# Benchmark on the large profile at scales 1 and 10, with the hardware limit and the peers
bench *ARGS:
    {{venv}}/pip install --quiet -e '.[dev,bench]'
    {{venv}}/python bench/bench.py {{ARGS}}

# Where each stage spends its time at scale 10 (py-spy, PostgreSQL CPU): bench/results/profile.md
profile *ARGS:
    {{venv}}/pip install --quiet -e '.[dev,bench]'
    {{venv}}/python bench/profile.py {{ARGS}}

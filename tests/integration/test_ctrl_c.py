"""Ctrl+C while PostgreSQL runs a statement: the ADBC driver takes SIGINT itself there and
cancelled the statement at the first press, so a schema being created or a batch being copied
failed ("PostgreSQL failed: CANCELLED", exit 1) instead of finishing and stopping at the next
checkpoint; or, on a statement that ended first, the press was lost and the command ran on."""

import os
import signal
import threading

import adbc_driver_postgresql.dbapi as pgdbapi
import pytest

from toolkit.runtime import interrupt
from toolkit.target import postgres


def press_ctrl_c_in(seconds: float) -> None:
    threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT)).start()


def test_the_first_ctrl_c_lets_the_statement_finish_and_the_second_cancels_it(pg_uri):
    with interrupt.graceful(), postgres.connect(pg_uri) as conn, conn.cursor() as cur:
        press_ctrl_c_in(0.3)
        cur.execute("SELECT pg_sleep(1.5) IS NULL")
        assert cur.fetchall() == [(False,)]  # it ran to its end
        assert interrupt.requested() and not interrupt.forced()  # the stage stops at its next check
        press_ctrl_c_in(0.3)
        with pytest.raises(pgdbapi.OperationalError, match="canceling statement due to user request"):
            cur.execute("SELECT pg_sleep(30) IS NULL")
            cur.fetchall()
        assert interrupt.forced()  # the command says "Stopped at once", exit 130

"""The load test's reduced form (bench/bench_load.py has the full one with the figures): ten
simulated users for ten seconds against the package's gunicorn installation on PostgreSQL.
They log in, browse, start reviews and save answers, import case lists through the upload
form and the API, and race for the month's draw. Asserted: no 5xx, every answer the
driver expected, no lost writes (everything the driver saw succeed is in the database, and
the load wrote nothing else) and an unbroken audit chain (``kontroll audit verify``).
Latency is reported by the benchmark, never asserted here."""

from __future__ import annotations

import pytest

from bench import loadclient as lc

pytestmark = pytest.mark.production


def test_ten_users_for_ten_seconds_lose_nothing(installation):
    plan = lc.setup_load_data(installation.env, 10)
    # at least five steps each (on a slow machine the ten seconds may not suffice for the
    # writes asserted below), never more than 60 s in all
    recorder = lc.run_load(installation.base, plan, seconds=10, think=0.3, ramp=1.0, min_steps=5, max_seconds=60)
    summary = lc.summarize(recorder)
    report = lc.format_summary(summary)

    assert summary["server_errors"] == 0, report
    assert summary["no_answer"] == 0, report
    assert summary["problems"] == [], report
    assert lc.verify_writes(installation.database_url, plan, recorder.ledger) == [], report
    # four workers appended to the audit log's hash chain at once: it is still whole
    assert "Senaste hash" in lc.kontroll(installation.env, "audit", "verify").stdout

    # the run did what it claims (a run that wrote nothing would prove nothing)
    writes = summary["writes"]
    assert writes["logins"] == len(plan.users), report
    assert writes["reviews_started"] > 0 and writes["answer_saves"] > 0, report
    assert writes["imports"] + writes["imports_refused_as_stale"] > 0, report
    assert writes["draws"] == len(plan.drawer_units), report  # one per unit and month

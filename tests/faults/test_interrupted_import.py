"""A case-list import killed (SIGKILL) inside its transaction leaves nothing behind.

The real ``kontroll caselist import`` runs in a child process and is paused just before a
chosen statement, so the kill lands at a known point inside the transaction: after the
snapshot row and two batches of cases are written, or at commit time just before the audit
entry is chained. Afterwards there is no snapshot, no case, no audit entry, the SQLite file
passes ``PRAGMA integrity_check``, the audit chain is whole, and the same file imports fully.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.cases.services import BATCH, stored_snapshot_digest
from kontroll.core.audit import verify_chain
from kontroll.core.models import AuditEntry
from tests.support.faults import (
    ON_POSTGRES,
    paused_counts,
    pg_backend_gone,
    pg_backend_locks,
    pg_backend_state,
    sqlite_integrity,
    sqlite_write_lock_is_taken,
)

pytestmark = pytest.mark.faults

ROWS = 4 * BATCH  # four INSERT batches of 5000 cases


def write_case_list(path, rows: int = ROWS) -> None:
    lines = ["Ärendenummer;Handläggare;Handläggarsignatur;Grupp"]
    lines += [f"EB-{i:06d};Handläggare {i % 40};H{i % 40:03d};Grupp {i % 7}" for i in range(1, rows + 1)]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


def tally(db) -> dict[str, int]:
    db.rollback()  # a fresh look (PostgreSQL: a new snapshot of the committed state)
    result = {
        "snapshots": db.scalar(select(func.count()).select_from(CaseListSnapshot)),
        "cases": db.scalar(select(func.count()).select_from(SnapshotCase)),
        "import_audit": db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "caselist.import")
        ),
        "audit": db.scalar(select(func.count()).select_from(AuditEntry)),
    }
    db.rollback()
    return result


@pytest.mark.parametrize(
    ("pause_before", "pause_at", "where"),
    [
        ("INSERT INTO snapshot_cases", 3, "after the snapshot row and two batches of cases"),
        ("INSERT INTO audit_entries", 1, "at commit, with every case written and the audit chain locked"),
    ],
    ids=["mid-cases", "at-commit"],
)
def test_an_import_killed_inside_its_transaction_leaves_nothing_and_can_be_redone(
    spawn, app, db, world, database_url, tmp_path, pause_before, pause_at, where
):
    path = tmp_path / "arendelista.csv"
    write_case_list(path)
    before = tally(db)
    assert before["snapshots"] == before["cases"] == before["import_audit"] == 0

    args = ["caselist", "import", "--unit", "IFO-FS", "--user", "forste", str(path)]
    child = spawn(args, pause_before=pause_before, pause_at=pause_at,
                  count=("case_list_snapshots", "snapshot_cases"))
    inside = paused_counts(child.wait_for(r"^FAULT-PAUSED"))

    # the child is inside its transaction, with rows written that nobody else can see
    assert inside["case_list_snapshots"] == 1, (where, inside)
    if pause_before.startswith("INSERT INTO snapshot_cases"):
        assert 0 < inside["snapshot_cases"] < ROWS, inside
    else:
        assert inside["snapshot_cases"] == ROWS, inside
    if ON_POSTGRES:
        backend = inside["backend"]
        assert pg_backend_state(database_url, backend) == "idle in transaction"
        assert ("snapshot_cases", "RowExclusiveLock", True) in pg_backend_locks(database_url, backend)
    else:
        assert sqlite_write_lock_is_taken(database_url), "the importing process should hold the write lock"
    assert tally(db) == before

    assert child.kill() == -9
    if ON_POSTGRES:
        pg_backend_gone(database_url, inside["backend"])  # the server ended the transaction (rolled back)
    else:
        assert not sqlite_write_lock_is_taken(database_url), "the lock dies with the process"

    # nothing of the import is there, and the database is whole
    assert tally(db) == before
    if not ON_POSTGRES:
        integrity, foreign_keys = sqlite_integrity(database_url)
        assert integrity == [("ok",)] and foreign_keys == []
    assert verify_chain(db, app.config["AUDIT_KEY_BYTES"]).ok
    db.rollback()

    # the same file imports fully with the same command (in this process: a new one would only
    # add its start-up time)
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0 and f"Importerade {ROWS} ärenden" in result.output, result.output
    after = tally(db)
    assert after == {**before, "snapshots": 1, "cases": ROWS, "import_audit": 1, "audit": before["audit"] + 1}
    snapshot = db.scalar(select(CaseListSnapshot))
    assert snapshot.row_count == ROWS
    assert stored_snapshot_digest(db, snapshot.id) == (snapshot.sha256, ROWS)
    report = verify_chain(db, app.config["AUDIT_KEY_BYTES"])
    assert report.ok and report.count == after["audit"], report.message()
    db.rollback()
    if not ON_POSTGRES:
        assert sqlite_integrity(database_url) == ([("ok",)], [])

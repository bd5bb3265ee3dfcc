"""The kontroll command: users, roles, units, demo, db."""

from __future__ import annotations

from sqlalchemy import func, select

from kontroll.core.models import AuditEntry, Role, RoleAssignment, Unit, User


def test_user_create_add_role_and_deactivate(runner, db, world):
    result = runner.invoke(args=["user", "create", "--username", "ny.chef", "--name", "Ny Chef",
                                 "--password", "langt-och-krangligt-losenord", "--signature", "NYCH"])
    assert result.exit_code == 0, result.output
    assert "är skapad" in result.output
    result = runner.invoke(args=["user", "add-role", "ny.chef", "sektionschef", "--unit", "INT"])
    assert result.exit_code == 0, result.output
    user = db.scalar(select(User).where(User.username == "ny.chef"))
    assert user.case_system_id == "NYCH"
    assert [(a.role, a.unit.code) for a in user.role_assignments] == [(Role.SEKTIONSCHEF, "INT")]
    result = runner.invoke(args=["user", "deactivate", "ny.chef"])
    assert result.exit_code == 0 and "avstängd" in result.output
    db.expire_all()
    assert db.get(User, user.id).is_active is False
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(user.id))))
    assert {"user.create", "role.add", "user.deactivate"} <= actions


def test_refusals_exit_1_with_swedish_message_and_change_nothing(runner, db, world):
    count = db.scalar(select(func.count()).select_from(RoleAssignment))
    result = runner.invoke(args=["user", "add-role", "forste", "sektionschef"])  # no unit
    assert result.exit_code == 1 and "måste höra till en enhet" in result.output
    result = runner.invoke(args=["user", "add-role", "forste", "kung", "--unit", "IFO-FS"])
    assert result.exit_code == 1 and "Okänd roll" in result.output
    result = runner.invoke(args=["user", "add-role", "finns.inte", "revisor"])
    assert result.exit_code == 1 and "finns inte" in result.output
    result = runner.invoke(args=["user", "create", "--username", "forste", "--name", "X", "--password", "langt-losenord"])
    assert result.exit_code == 1 and "finns redan" in result.output
    result = runner.invoke(args=["user", "create", "--username", "kort", "--name", "X", "--password", "kort"])
    assert result.exit_code == 1 and "minst 12 tecken" in result.output
    assert db.scalar(select(func.count()).select_from(RoleAssignment)) == count
    assert db.scalar(select(func.count()).select_from(User).where(User.username == "kort")) == 0


def test_unit_list(runner, world):
    result = runner.invoke(args=["unit", "list"])
    assert result.exit_code == 0
    assert "IFO-FS\tFörsörjningsstöd IFO" in result.output
    assert "INT\tIntegrationsenheten" in result.output and "administratör" in result.output


def test_demo_load_builds_the_demo_municipality_once(runner, db):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    units = {u.code: u for u in db.scalars(select(Unit))}
    assert set(units) == {"IFO-FS", "INT"}
    assert units["INT"].drawer_role == Role.ADMINISTRATOR
    assert len(units["IFO-FS"].teams) == 3
    roles = {a.role for a in db.scalars(select(RoleAssignment))}
    assert roles == set(Role)  # at least one user per role
    # last month's routine is there to look at: a draw, one signed review with a brist and an
    # åtgärd, one draft; this month is left for the demo's users
    from kontroll.reviews.models import Atgard, Brist, Review
    from kontroll.sampling.models import Draw

    draws = list(db.scalars(select(Draw)))
    assert len(draws) == 1 and draws[0].unit.code == "IFO-FS"
    assert sorted(r.state for r in db.scalars(select(Review))) == ["klar", "pågående"]
    assert db.scalar(select(func.count()).select_from(Brist)) == 1
    assert db.scalar(select(func.count()).select_from(Atgard)) == 1
    # a second load refuses; --if-empty succeeds without change
    users = db.scalar(select(func.count()).select_from(User))
    assert runner.invoke(args=["demo", "load"]).exit_code == 1
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0 and "laddas inte" in result.output
    assert db.scalar(select(func.count()).select_from(User)) == users


def test_db_upgrade_is_idempotent(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0 and "uppgraderad" in result.output
    assert runner.invoke(args=["db", "current"]).output.strip() != ""

"""A demo municipality: two units, three teams, a user for every role, and demo cases.

Every demo user has the password :data:`DEMO_PASSWORD` (documented in the README). The demo
is loaded only into an empty database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.core import audit
from kontroll.core import users as svc
from kontroll.core.models import Role, Unit, User

DEMO_PASSWORD = "kontroll-demo"
ACTOR = "demo"


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    roles: tuple[tuple[Role, str | None], ...]
    case_system_id: str | None = None


R = Role
#: (username, name, roles with unit code or None for the whole organisation, signature)
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("sektionschef", "Sara Lindqvist", ((R.SEKTIONSCHEF, "IFO-FS"),)),
    DemoUser("sektionschef.int", "Karin Berg", ((R.SEKTIONSCHEF, "INT"),)),
    DemoUser("administrator", "Ali Hassan", ((R.ADMINISTRATOR, "INT"),)),
    DemoUser("forste1", "Maria Nilsson", ((R.FORSTE_SOCIALSEKRETERARE, "IFO-FS"),), "MANI"),
    DemoUser("forste2", "Johan Ek", ((R.FORSTE_SOCIALSEKRETERARE, "IFO-FS"),), "JOEK"),
    DemoUser(
        "forste3",
        "Leila Karimi",
        ((R.FORSTE_SOCIALSEKRETERARE, "IFO-FS"), (R.FORSTE_SOCIALSEKRETERARE, "INT")),
        "LEKA",
    ),
    DemoUser("forste.int", "Lena Holm", ((R.FORSTE_SOCIALSEKRETERARE, "INT"),), "LEHO"),
    DemoUser("enhetschef", "Per Andersson", ((R.ENHETSCHEF, "IFO-FS"), (R.ENHETSCHEF, "INT"))),
    DemoUser("namnd", "Eva Sjöberg", ((R.NAMND, None),)),
    DemoUser("revisor", "Lars Ström", ((R.REVISOR, None),)),
    DemoUser("sysadmin", "Ingrid Wallin", ((R.SYSTEMADMINISTRATOR, None),)),
    # handläggare in IFO-FS (signatures as in the case system's export)
    DemoUser("anna.froberg", "Anna Fröberg", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "ANFR"),
    DemoUser("bjorn.backstrom", "Björn Bäckström", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "BJBA"),
    DemoUser("hanna.lindstrom", "Hanna Lindström", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "HALI"),
    DemoUser("hanna.mohammed", "Hanna Mohammed", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "HAMO"),
    DemoUser("jonas.mohammed", "Jonas Mohammed", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "JOMO"),
    DemoUser("nils.persson", "Nils Persson", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "NIPE"),
    DemoUser("rasmus.isaksson", "Rasmus Isaksson", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "RAIS"),
    DemoUser("tove.radstrom", "Tove Rådström", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "TORA"),
    DemoUser("viktor.mohammed", "Viktor Mohammed", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "VIMO"),
    DemoUser("asa.oberg", "Åsa Öberg", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "ASOB"),
    DemoUser("omer.persson", "Ömer Persson", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "OMPE"),
    DemoUser("omer.radstrom", "Ömer Rådström", ((R.SOCIALSEKRETERARE, "IFO-FS"),), "OMRA"),
    # handläggare in the integration unit
    DemoUser("cecilia.lindstrom", "Cecilia Lindström", ((R.SOCIALSEKRETERARE, "INT"),), "CELI"),
    DemoUser("goran.olsson", "Göran Olsson", ((R.SOCIALSEKRETERARE, "INT"),), "GOOL"),
    DemoUser("ingrid.mohammed", "Ingrid Mohammed", ((R.SOCIALSEKRETERARE, "INT"),), "INMO"),
    DemoUser("nils.nystrom", "Nils Nyström", ((R.SOCIALSEKRETERARE, "INT"),), "NINY"),
    DemoUser("par.olsson", "Pär Olsson", ((R.SOCIALSEKRETERARE, "INT"),), "PAOL"),
    DemoUser("zeynep.ek", "Zeynep Ek", ((R.SOCIALSEKRETERARE, "INT"),), "ZEEK"),
)

#: the team each handläggare works in, and the team's lead
DEMO_TEAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Grupp 1": ("forste1", ("ANFR", "HAMO", "RAIS", "ASOB")),
    "Grupp 2": ("forste2", ("BJBA", "JOMO", "TORA", "OMPE")),
    "Grupp 3": ("forste3", ("HALI", "NIPE", "VIMO", "OMRA")),
}


def database_is_empty(session: Session) -> bool:
    return (session.scalar(select(func.count()).select_from(User)) or 0) == 0 and (
        session.scalar(select(func.count()).select_from(Unit)) or 0
    ) == 0


def load_demo(session: Session) -> dict[str, int]:
    """Build the demo municipality. Refuses a database that already has users or units."""
    if not database_is_empty(session):
        raise RuntimeError("Databasen är inte tom: demodata laddas bara i en tom databas.")
    units = {
        "IFO-FS": svc.create_unit(
            session, ACTOR, code="IFO-FS", name="Försörjningsstöd IFO", drawer_role=Role.SEKTIONSCHEF
        ),
        "INT": svc.create_unit(
            session, ACTOR, code="INT", name="Integrationsenheten", drawer_role=Role.ADMINISTRATOR
        ),
    }
    users: dict[str, User] = {}
    for du in DEMO_USERS:
        user = svc.create_user(
            session,
            ACTOR,
            username=du.username,
            full_name=du.full_name,
            password=DEMO_PASSWORD,
            case_system_id=du.case_system_id,
        )
        users[du.username] = user
        for role, code in du.roles:
            svc.add_role(session, ACTOR, user, role, units[code] if code else None)
    for team_name, (lead, _members) in DEMO_TEAMS.items():
        svc.create_team(session, ACTOR, units["IFO-FS"], team_name, users[lead])
    audit.record(session, ACTOR, "demo.load", details={"users": len(users), "units": len(units)})
    session.flush()
    return {"units": len(units), "users": len(users), "teams": len(DEMO_TEAMS)}


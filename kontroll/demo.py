"""A demo municipality: two units, three teams, a user for every role, and demo cases.

Every demo user has the password :data:`DEMO_PASSWORD` (documented in the README). The demo
is loaded only into an empty database.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.core import audit, auth
from kontroll.core import users as user_svc
from kontroll.core.models import Role, Unit, User
from kontroll.core.periods import Period
from kontroll.db import utcnow

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
        "IFO-FS": user_svc.create_unit(
            session, ACTOR, code="IFO-FS", name="Försörjningsstöd IFO", drawer_role=Role.SEKTIONSCHEF
        ),
        "INT": user_svc.create_unit(
            session, ACTOR, code="INT", name="Integrationsenheten", drawer_role=Role.ADMINISTRATOR
        ),
    }
    users: dict[str, User] = {}
    for du in DEMO_USERS:
        user = user_svc.create_user(
            session,
            ACTOR,
            username=du.username,
            full_name=du.full_name,
            password=None,
            case_system_id=du.case_system_id,
        )
        # the demo's password is public and short on purpose; the password policy is for real ones
        user.password_hash = auth.hash_password(DEMO_PASSWORD)
        users[du.username] = user
        for role, code in du.roles:
            user_svc.add_role(session, ACTOR, user, role, units[code] if code else None)
    for team_name, (lead, _members) in DEMO_TEAMS.items():
        user_svc.create_team(session, ACTOR, units["IFO-FS"], team_name, users[lead])
    cases = load_demo_cases(session, units, users)
    load_demo_history(session, units, users)
    audit.record(session, ACTOR, "demo.load", details={"users": len(users), "units": len(units), "cases": cases})
    session.flush()
    return {"units": len(units), "users": len(users), "teams": len(DEMO_TEAMS), "cases": cases}


HUSHALL = ("Ensamstående utan barn", "Ensamstående med barn", "Sammanboende utan barn",
           "Sammanboende med barn", "Övriga")


def demo_case_list_csv(unit_code: str, month: int, rng_seed: int = 2026) -> bytes:
    """A case-system export as Swedish Excel writes it: `;`, decimal comma, UTF-8 with BOM,
    with a personnummer and a client-name column that kontroll must drop unread.
    ``month`` 0 is last month's list, 1 this month's: some cases end, some start, a few move."""
    rng = random.Random(f"{unit_code}-{rng_seed}")
    if unit_code == "IFO-FS":
        staff = [(sig, team) for team, (_lead, sigs) in DEMO_TEAMS.items() for sig in sigs]
        size, prefix = 240, "EB"
    else:
        staff = [(sig, None) for sig in ("CELI", "GOOL", "INMO", "NINY", "PAOL", "ZEEK")]
        size, prefix = 180, "INT"
    names = {du.case_system_id: du.full_name for du in DEMO_USERS if du.case_system_id}
    population = []
    today = dt.date.today()
    for i in range(size + 30):
        sig, team = rng.choice(staff)
        akt = today - dt.timedelta(days=rng.randint(40, 2500))
        # unique by construction: each i owns its own range of numbers
        number = 1000 + i * 31 + rng.randint(0, 30)
        population.append((f"{prefix}-{akt.year}-{number:05d}", sig, team, akt))
    # last month: the first `size`; this month: 12 ended, 18 new, 6 moved to another handläggare
    if month == 0:
        rows = population[:size]
    else:
        rows = population[12:size + 18]
        for k in range(6):
            ref, _sig, team, akt = rows[k * 20]
            new_sig, new_team = staff[(k * 5) % len(staff)]
            rows[k * 20] = (ref, new_sig, new_team, akt)
    header = ["Ärendenummer", "Personnummer", "Namn", "Handläggare", "Handläggarsignatur", "Grupp",
              "Aktualiseringsdatum", "Senaste beslut", "Hushållstyp", "Beviljat belopp (kr)"]
    lines = [";".join(header)]
    for n, (ref, sig, team, akt) in enumerate(rows):
        amount = f"{rng.randint(3000, 32000):,}".replace(",", "\u00a0") + f",{rng.randint(0, 99):02d}"
        decided = min(akt + dt.timedelta(days=rng.randint(10, 600)), today - dt.timedelta(days=1))
        lines.append(";".join([
            ref, f"19121212-{1000 + n}", f"Klient {n + 1}", names[sig], sig, team or "",
            akt.isoformat(), decided.isoformat(), rng.choice(HUSHALL), amount,
        ]))
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def load_demo_cases(session: Session, units: dict[str, Unit], users: dict[str, User]) -> int:
    """Import demo case lists: last month's and this month's for IFO-FS, this month's for INT."""
    from kontroll.cases import services as cases

    now = utcnow()
    last_month = now - dt.timedelta(days=31)
    total = 0
    for code, importer, months in (("IFO-FS", "forste1", (0, 1)), ("INT", "administrator", (1,))):
        for month in months:
            snapshot = cases.import_file(
                session, users[importer], units[code], demo_case_list_csv(code, month),
                f"arendelista-{code.lower()}-{'forra' if month == 0 else 'denna'}-manad.csv",
                source="cli", now=last_month if month == 0 else now,
            )
            if month == 1:
                total += snapshot.row_count
    return total



def load_demo_history(session: Session, units: dict[str, Unit], users: dict[str, User],
                      checklists_dir: Path | None = None) -> None:
    """Last month's stickprov in IFO-FS, carried through the routine: reviewers assigned, one
    review signed with a brist, återkoppling given and an åtgärd opened; the other review is a
    draft. This month's draws are left for the demo's users to make."""
    from kontroll.checklists.services import checklists_directory, stickprov_template
    from kontroll.reviews import services as reviews
    from kontroll.sampling import services as sampling

    now = utcnow()
    today = now.date()
    period = str(Period.of(now).previous())
    ifo = units["IFO-FS"]
    draw = sampling.run_draw(session, users["sektionschef"], ifo, period, now=now - dt.timedelta(days=25))
    reviewers = []
    for drawn_case in draw.cases:
        eligible = [c.user for c in sampling.candidates(session, drawn_case) if c.eligible]
        reviewer = eligible[len(reviewers) % len(eligible)]
        sampling.assign_reviewer(session, users["sektionschef"], drawn_case, reviewer)
        reviewers.append(reviewer)
    directory = checklists_dir or checklists_directory({})
    template = stickprov_template(directory)
    first, second = draw.cases[0], draw.cases[1]
    review = reviews.open_review(session, reviewers[0], first, template)
    answers: dict[str, tuple[str, str]] = {}
    for _area, item in template.items():
        answer = "ja" if "ja" in item.answers else item.answers[0]
        comment = "Demo: kontrollerat i akten." if item.requires_comment(answer) else ""
        answers[item.key] = (answer, comment)
    deviating = next(item for _area, item in template.items() if item.deviation)
    answers[deviating.key] = (deviating.deviation or "nej", "Demo: saknas i akten vid granskningen.")
    reviews.sign(session, reviewers[0], review, answers)
    reviews.record_feedback(session, reviewers[0], review, today - dt.timedelta(days=3), "vid_mote",
                            "Demo: gick igenom bristen med handläggaren.", today=today)
    brist_ids = [b.id for b in review.brister]
    reviews.open_atgard(session, users["sektionschef"], ifo, brist_ids,
                        "Demo: påminn gruppen om rutinen och följ upp i nästa stickprov.", reviewers[0],
                        today + dt.timedelta(days=30), today=today)
    draft = reviews.open_review(session, reviewers[1], second, template)
    reviews.save_draft(session, reviewers[1], draft, {k: v for k, v in list(answers.items())[:5]})

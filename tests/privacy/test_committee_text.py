"""Nothing identifying in committee-bound text (docs/architecture.md, invariant 9): the bedömning and the
justification of a separation-rule override are refused, through the service, the page (422)
and the command line (exit 1), when they hold a case reference from the unit's lists, a
handläggare's name or signature, a user's name, or a personnummer. Rows stored before the
check existed are withheld from the page, the PDF and the CSV, with a note to the sektionschef."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import func, insert, select

from kontroll.cases import services as cases
from kontroll.core import users as user_svc
from kontroll.core.models import Role
from kontroll.db import get_database
from kontroll.privacy.committee import IdentifyingText
from kontroll.reports import services as reports
from kontroll.reports.models import Assessment
from kontroll.sampling import services as sampling
from kontroll.sampling.models import Assignment, DrawnCase
from tests.support.web import csrf_from, login

YEAR = 2026
LIST = ("Ärendenummer;Handläggare;Handläggarsignatur;Grupp\r\n"
        "EB-2025-017287;Åsa Öberg;ASOB;Grupp 1\r\n"
        "EB-2025-017288;Jonas Mohammed;JOMO;Grupp 1\r\n"
        "EB-2025-017289;Åsa Öberg;ASOB;Grupp 1\r\n").encode()

IDENTIFYING = [
    ("case_ref", "Granskningen av EB-2025-017287 visade brister."),
    ("case_ref", "Ärendet eb-2025-017288 följs upp."),
    ("handlaggare", "Åsa Öberg behöver stöd med beräkningar."),
    ("handlaggare", "Öberg, Åsa behöver stöd."),
    ("handlaggare", "Brister hos ASOB i två ärenden."),
    ("user", "Sektionschef har gått igenom detta med Forste Två."),
    ("personnummer", "Se 19850101-1236 i akten."),
]
PLAIN = "Inga väsentliga avvikelser. Bristerna i underskrifter följs upp i gruppen under våren."


@pytest.fixture
def unit_with_list(app, world):
    with get_database(app).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        f2 = user_svc.create_user(session, "t", username="forste2", full_name="Forste Två", password=None)
        user_svc.add_role(session, "t", f2, Role.FORSTE_SOCIALSEKRETERARE, unit)
        user_svc.create_team(session, "t", unit, "Grupp 1", user_svc.get_user_by_username(session, "forste"))
        cases.import_file(session, user_svc.get_user_by_username(session, "forste"), unit, LIST, "lista.csv",
                          source="cli")
    return app


def _sign(app, text):
    with get_database(app).session_scope() as session:
        return reports.sign_assessment(session, user_svc.get_user_by_username(session, "sektionschef"),
                                       user_svc.get_unit_by_code(session, "IFO-FS"), YEAR, text)


@pytest.mark.parametrize("kind, text", IDENTIFYING)
def test_the_bedomning_is_refused_through_the_service(unit_with_list, db, kind, text):
    with pytest.raises(IdentifyingText) as err:
        _sign(unit_with_list, text)
    assert kind in err.value.kinds
    assert "nämnden" in err.value.message and "Ingenting har sparats" in err.value.message
    for word in ("017287", "Öberg", "ASOB", "1236"):
        assert word not in err.value.message
    assert db.scalar(select(func.count()).select_from(Assessment)) == 0


def test_a_plain_bedomning_is_signed(unit_with_list, db):
    _sign(unit_with_list, PLAIN)
    assert db.scalar(select(func.count()).select_from(Assessment)) == 1


@pytest.mark.parametrize("kind, text", IDENTIFYING[:3] + IDENTIFYING[-1:])
def test_the_bedomning_is_refused_on_the_page_with_422(unit_with_list, client, db, kind, text):
    login(client, "sektionschef")
    token = csrf_from(client.get(f"/sammanfattning/IFO-FS?ar={YEAR}").get_data(as_text=True))
    response = client.post(f"/sammanfattning/IFO-FS/bedomning?ar={YEAR}", data={"csrf_token": token, "text": text})
    assert response.status_code == 422
    assert "läses av nämnden och får inte peka ut någon" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Assessment)) == 0


def test_the_bedomning_is_refused_on_the_command_line_with_exit_1(unit_with_list, runner, db):
    result = runner.invoke(args=["report", "sign", "--unit", "IFO-FS", "--year", str(YEAR), "--user", "sektionschef",
                                 "--text", IDENTIFYING[0][1]])
    assert result.exit_code == 1 and "ärendenummer" in result.output
    assert db.scalar(select(func.count()).select_from(Assessment)) == 0
    result = runner.invoke(args=["report", "sign", "--unit", "IFO-FS", "--year", str(YEAR), "--user", "sektionschef",
                                 "--text", PLAIN])
    assert result.exit_code == 0, result.output
    assert db.scalar(select(func.count()).select_from(Assessment)) == 1


def _override_case(app):
    """A draw whose every case is led by 'forste' and handled by others, with 'forste' the only
    reviewer left: an override is needed (hemmablindhet)."""
    with get_database(app).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        for name in ("forste2", "enhetschef"):
            user_svc.deactivate_user(session, "t", user_svc.get_user_by_username(session, name))
        draw = sampling.run_draw(session, user_svc.get_user_by_username(session, "sektionschef"), unit, f"{YEAR}-03")
        return draw.cases[0].id


@pytest.mark.parametrize("kind, text", [(k, t + " Ingen annan granskare finns denna månad.") for k, t in IDENTIFYING])
def test_an_override_justification_is_refused(unit_with_list, db, kind, text):
    dc_id = _override_case(unit_with_list)
    with get_database(unit_with_list).session_scope() as session:
        with pytest.raises(Exception) as err:
            sampling.assign_reviewer(session, user_svc.get_user_by_username(session, "sektionschef"),
                                     session.get(DrawnCase, dc_id), user_svc.get_user_by_username(session, "forste"),
                                     override_reason=text)
    assert kind in err.value.kinds
    assert db.scalar(select(func.count()).select_from(Assignment)) == 0


def test_an_override_justification_is_refused_on_the_page_with_422(unit_with_list, client, db):
    dc_id = _override_case(unit_with_list)
    draw_id = db.get(DrawnCase, dc_id).draw_id
    forste = user_svc.get_user_by_username(db, "forste")
    login(client, "sektionschef")
    token = csrf_from(client.get(f"/enheter/IFO-FS/stickprov/{draw_id}").get_data(as_text=True))
    response = client.post(f"/enheter/IFO-FS/stickprov/{draw_id}/arenden/{dc_id}/granskare",
                           data={"csrf_token": token, "reviewer": str(forste.id),
                                 "override_reason": "Åsa Öberg är borta, ingen annan finns i gruppen."})
    assert response.status_code == 422
    assert "läses av nämnden" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Assignment)) == 0


def test_stored_identifying_texts_are_withheld_from_the_committee_with_a_note_to_the_sektionschef(
        unit_with_list, client, db):
    """Rows written before the check existed: planted past the service, as an old version did."""
    dc_id = _override_case(unit_with_list)
    with get_database(unit_with_list).session_scope() as session:
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        chef = user_svc.get_user_by_username(session, "sektionschef")
        session.execute(insert(Assessment).values(unit_id=unit.id, year=YEAR, text="Brister i EB-2025-017287.",
                                                  signed_by_id=chef.id))
        session.execute(insert(Assignment).values(
            drawn_case_id=dc_id, reviewer_id=user_svc.get_user_by_username(session, "forste").id,
            assigned_by_id=chef.id, override_rule="hemmablindhet",
            override_reason="Åsa Öberg var sjuk och ingen annan fanns."))
    login(client, "namnd")
    page = client.get(f"/sammanfattning/IFO-FS?ar={YEAR}").get_data(as_text=True)
    csv = client.get(f"/sammanfattning/IFO-FS/export.csv?ar={YEAR}").get_data(as_text=True)
    pdf = client.get(f"/sammanfattning/IFO-FS/export.pdf?ar={YEAR}").get_data()
    pdf_text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for output in (page, csv, pdf_text):
        assert "017287" not in output and "Öberg" not in output
        assert "visas inte för nämnden" in " ".join(output.split())
    assert "Signera en ny version" not in page  # the note is the sektionschef's
    chef = unit_with_list.test_client()
    login(chef, "sektionschef")
    page = chef.get(f"/sammanfattning/IFO-FS?ar={YEAR}").get_data(as_text=True)
    assert "Signera en ny version utan sådana uppgifter" in page and "ett ärendenummer" in page
    assert "visas inte för nämnden, eftersom den innehåller en handläggares namn" in page

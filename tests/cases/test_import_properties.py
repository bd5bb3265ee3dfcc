"""Property-based: whatever bytes or CSV-ish text arrive, the import either succeeds or
refuses with its own Swedish error — never another exception, never an HTTP 500 — and a
refusal stores nothing."""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kontroll.cases import services as svc
from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.cases.parsing import CaseListError
from kontroll.core import users as user_svc
from kontroll.core.errors import ValidationError
from kontroll.db import get_database
from tests.support.web import csrf_from, login

HEADERS = ["Ärendenummer", "Handläggare", "Sign", "Grupp", "Akt.datum", "Belopp", "Personnummer", "Hushållstyp", ""]
CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["EB-1", "EB-2", "19121212-2731", "2024-01-31", "1 234,50", "45292", "=1+1", "\u00a0", '"', ";"]),
    st.from_regex(r"\d{6,12}", fullmatch=True),
)


@st.composite
def csvish(draw) -> bytes:
    headers = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6))
    sep = draw(st.sampled_from([";", ",", "\t"]))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(headers) + 1), max_size=8))
    text = sep.join(headers) + "\r\n" + "".join(sep.join(r) + draw(st.sampled_from(["\r\n", "\n"])) for r in rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return text.encode(encoding, errors="replace")


PAYLOADS = st.one_of(st.binary(max_size=400), csvish())


def _counts(session):
    return (session.scalar(select(func.count()).select_from(CaseListSnapshot)),
            session.scalar(select(func.count()).select_from(SnapshotCase)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=PAYLOADS)
def test_service_imports_or_refuses_cleanly(app, world, data):
    database = get_database(app)
    with database.session_scope() as session:
        before = _counts(session)
    session = database.sessionmaker()
    try:
        actor = user_svc.get_user_by_username(session, "forste")
        unit = user_svc.get_unit_by_code(session, "IFO-FS")
        try:
            svc.import_file(session, actor, unit, data, "fuzz.csv", source="cli")
        except (CaseListError, ValidationError) as err:
            assert err.message.strip()
            session.rollback()
            assert _counts(session) == before
        else:
            session.rollback()  # keep the database small between examples
    finally:
        session.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=PAYLOADS, override=st.text(max_size=20))
def test_upload_never_answers_500(client, world, data, override):
    if client.get_cookie("kontroll_session") is None or client.get("/").status_code != 200:
        login(client, "forste")
    token = csrf_from(client.get("/enheter/IFO-FS/arendelistor/ny").get_data(as_text=True))
    response = client.post(
        "/enheter/IFO-FS/arendelistor/ny",
        data={"csrf_token": token, "fil": (io.BytesIO(data), "fuzz.csv"), "kolumn_team": override},
        content_type="multipart/form-data",
    )
    if "\x00" in override:
        # a NUL character in a form field is refused before any view runs (core.web._refuse_nul)
        assert response.status_code == 400, response.status_code
        assert "NUL" in response.get_data(as_text=True)
        return
    assert response.status_code in (200, 422), response.status_code
    if response.status_code == 422:
        assert "Filen kunde inte importeras" in response.get_data(as_text=True) or "Välj en fil" in response.get_data(as_text=True)

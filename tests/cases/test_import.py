"""Case-list import through the service, the upload page, the CLI and the API, on the
database under test. Every refusal leaves the database exactly as it was."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from kontroll.cases import services as svc
from kontroll.cases.models import (
    CaseListApiToken,
    CaseListSnapshot,
    ImmutableError,
    PendingImport,
    SnapshotCase,
)
from kontroll.cases.parsing import CaseListError, parse_case_list, snapshot_sha256
from kontroll.core.models import AuditEntry
from kontroll.core import users as user_svc
from kontroll.db import Base, get_database
from tests.support.web import csrf_from, login

DATA = Path(__file__).resolve().parents[1] / "data"  # copies of ../shared/data (test personnummer only)
UTF8 = DATA / "arendelista-utf8-bom.csv"
ANSI = DATA / "arendelista-ansi.csv"
XLSX = DATA / "arendelista.xlsx"

HEADER = "Ärendenummer;Personnummer;Namn;Handläggare;Handläggarsignatur;Grupp\r\n"


def small_csv(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\r\n" for r in rows)).encode("utf-8")


GOOD = small_csv(
    "EB-1;19121212-2731;Klient A;Anna A;ANAN;Grupp 1",
    "EB-2;19121212-2665;Klient B;Bo B;BOBO;Grupp 2",
    "EB-3;19121212-9538;Klient C;Anna A;ANAN;Grupp 1",
)


def counts(db) -> dict[str, int]:
    return {
        t.name: db.scalar(select(func.count()).select_from(t))
        for t in Base.metadata.sorted_tables
        if t.name not in ("user_sessions",)
    }


@pytest.fixture
def handlaggare(world, db):
    """Two handläggare of IFO-FS: one linked by signature, one only by name."""
    anna = user_svc.create_user(db, "test", username="anna.a", full_name="Anna A", password=None, case_system_id="ANAN")
    user_svc.add_role(db, "test", anna, user_svc.parse_role("socialsekreterare"), world.ifo)
    bo = user_svc.create_user(db, "test", username="bo.b", full_name="Bo B", password=None)
    user_svc.add_role(db, "test", bo, user_svc.parse_role("socialsekreterare"), world.ifo)
    db.commit()
    return anna, bo


def do_import(app, world, data: bytes, name: str = "lista.csv", username: str = "forste", **kw):
    with get_database(app).session_scope() as session:
        actor = user_svc.get_user_by_username(session, username)
        unit = user_svc.get_unit_by_code(session, kw.pop("unit", "IFO-FS"))
        snap = svc.import_file(session, actor, unit, data, name, source="cli", **kw)
        return snap.id, snap.row_count, snap.sha256


@pytest.mark.parametrize("path,unit,rows", [(UTF8, "IFO-FS", 240), (ANSI, "INT", 180), (XLSX, "IFO-FS", None)])
def test_each_shared_format_imports(app, world, db, path, unit, rows):
    data = path.read_bytes()
    username = "forste" if unit == "IFO-FS" else "administrator"
    sid, n, digest = do_import(app, world, data, path.name, username=username, unit=unit)
    if rows is not None:
        assert n == rows
    stored = db.scalars(select(SnapshotCase).where(SnapshotCase.snapshot_id == sid)).all()
    assert len(stored) == n
    # the stored hash is the canonical hash of the stored rows (an auditor can recompute it)
    assert digest == snapshot_sha256(parse_case_list(data, path.name).rows)
    snap = db.get(CaseListSnapshot, sid)
    assert snap.source_filename == path.name and snap.row_count == n


def test_no_personnummer_or_client_name_anywhere_in_the_database(app, world, db):
    data = UTF8.read_bytes()
    do_import(app, world, data, UTF8.name)
    text_data = data.decode("utf-8-sig")
    pnrs = set(re.findall(r"\b(?:19|20)?\d{6}[-+]?\d{4}\b", text_data))
    assert len(pnrs) >= 200
    names = set(re.findall(r"Klient \d+", text_data))
    digits_only = {re.sub(r"\D", "", p) for p in pnrs}
    for table in Base.metadata.sorted_tables:
        for row in db.execute(select(table)).all():
            for value in row:
                if value is None:
                    continue
                s = str(value)
                assert not any(p in s for p in pnrs), (table.name, s[:80])
                assert not any(d in re.sub(r"\D", "", s) for d in digits_only if len(s) < 200), (table.name, s[:80])
                assert "Klient" not in s or not any(n in s for n in names), (table.name, s[:80])


REFUSALS = {
    "personnummer in a mapped column": (
        small_csv("EB-1;x;y;Anna A;197001011233;G"),  # signature column holds a personnummer (valid Luhn)
        "personnummer",
    ),
    "duplicate case reference": (small_csv("EB-1;;;Anna A;ANAN;G", "EB-1;;;Bo B;BOBO;G"), "rad 2 och rad 3"),
    "row without case reference": (small_csv("EB-1;;;Anna A;ANAN;G", ";;;Bo B;BOBO;G"), "rad 3"),
    "required field not mappable": (b"Nummer;Vem\r\nEB-1;Anna\r\n", "Nummer"),
    "unreadable file": (b"\x00\x01\x02\xff\xfe" * 50, "kunde inte läsas"),
    "header only": (HEADER.encode(), "inga ärenden"),
}


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<x/>")
        zf.writestr("xl/worksheets/sheet1.xml", "0" * (150 * 1024 * 1024))
    return buf.getvalue()


@pytest.mark.parametrize("case", list(REFUSALS) + ["xlsx beyond limits"])
def test_refusals_change_nothing_service_and_cli(app, world, db, runner, tmp_path, case):
    data, fragment = REFUSALS[case] if case in REFUSALS else (_zip_bomb(), "")
    before = counts(db)
    with pytest.raises(CaseListError) as err:
        do_import(app, world, data)
    assert fragment.lower() in err.value.message.lower()
    assert counts(db) == before
    path = tmp_path / "lista.csv"
    path.write_bytes(data)
    result = runner.invoke(args=["caselist", "import", "--unit", "IFO-FS", "--user", "forste", str(path)])
    assert result.exit_code == 1
    assert err.value.message in result.output
    assert counts(db) == before


def test_refusal_names_column_and_rows(app, world):
    with pytest.raises(CaseListError) as err:
        do_import(app, world, REFUSALS["duplicate case reference"][0])
    assert err.value.rows == [2, 3]
    with pytest.raises(CaseListError) as err:
        do_import(app, world, REFUSALS["personnummer in a mapped column"][0])
    assert err.value.column == "Handläggarsignatur" and err.value.rows == [2]
    assert "197001011233" not in err.value.message


def test_cli_import_prints_count_and_hash(runner, world, db, tmp_path):
    path = tmp_path / "lista.csv"
    path.write_bytes(GOOD)
    result = runner.invoke(args=["caselist", "import", "--unit", "IFO-FS", "--user", "forste", str(path)])
    assert result.exit_code == 0, result.output
    snap = db.scalar(select(CaseListSnapshot))
    assert result.output.strip() == f"Importerade 3 ärenden (sha256 {snap.sha256})"
    assert snap.source == "cli" and snap.imported_by_id == world["forste"].id


def test_cli_column_option_and_refusals(runner, world, db, tmp_path):
    path = tmp_path / "lista.csv"
    path.write_bytes(b"Nummer;Vem\r\nEB-1;Anna\r\nEB-2;Bo\r\n")
    result = runner.invoke(args=["caselist", "import", "--unit", "IFO-FS", "--user", "forste",
                                 "--column", "case_ref=Nummer", "--column", "handlaggare_namn=Vem", str(path)])
    assert result.exit_code == 0, result.output
    assert "Importerade 2 ärenden" in result.output
    result = runner.invoke(args=["caselist", "import", "--unit", "IFO-FS", "--user", "namnd", str(path)])
    assert result.exit_code == 1 and "får inte importera" in result.output
    result = runner.invoke(args=["caselist", "import", "--unit", "INT", "--user", "forste", str(path)])
    assert result.exit_code == 1
    result = runner.invoke(args=["caselist", "import", "--unit", "IFO-FS", "--user", "forste", str(tmp_path / "saknas.csv")])
    assert result.exit_code == 1 and "kunde inte läsas" in result.output
    assert db.scalar(select(func.count()).select_from(CaseListSnapshot)) == 1


def test_handlaggare_linking_by_signature_and_by_name(app, world, db, handlaggare):
    anna, bo = handlaggare
    sid, *_ = do_import(app, world, GOOD)
    cases = {c.case_ref: c for c in db.scalars(select(SnapshotCase).where(SnapshotCase.snapshot_id == sid))}
    assert cases["EB-1"].handlaggare_user_id == anna.id and cases["EB-1"].link_method == "signatur"
    assert cases["EB-2"].handlaggare_user_id == bo.id and cases["EB-2"].link_method == "namn"
    snap = db.get(CaseListSnapshot, sid)
    assert (snap.linked_by_signature, snap.linked_by_name, snap.unlinked) == (2, 1, 0)


def test_a_namesake_in_another_unit_is_not_linked(app, world, db):
    other = user_svc.create_user(db, "test", username="anna.int", full_name="Anna A", password=None)
    user_svc.add_role(db, "test", other, user_svc.parse_role("socialsekreterare"), world.int)
    db.commit()
    sid, *_ = do_import(app, world, GOOD)
    assert db.scalar(select(func.count()).select_from(SnapshotCase).where(
        SnapshotCase.snapshot_id == sid, SnapshotCase.handlaggare_user_id.is_not(None))) == 0


def test_snapshots_are_immutable_in_the_orm_and_in_the_database(app, world, db):
    sid, *_ = do_import(app, world, GOOD)
    with get_database(app).session_scope() as session:
        case = session.scalar(select(SnapshotCase).where(SnapshotCase.snapshot_id == sid))
        case.handlaggare_namn = "Någon annan"
        with pytest.raises(ImmutableError):
            session.flush()
        session.rollback()
    database = get_database(app)
    for statement in (
        update(SnapshotCase).where(SnapshotCase.snapshot_id == sid).values(case_ref="X"),
        update(CaseListSnapshot).where(CaseListSnapshot.id == sid).values(row_count=99),
        text("DELETE FROM snapshot_cases"),
        text("DELETE FROM case_list_snapshots"),
    ):
        with pytest.raises(Exception, match="immutable"):
            with database.engine.begin() as conn:
                conn.execute(statement)
    db.expire_all()
    assert db.get(CaseListSnapshot, sid).row_count == 3


# --- the upload page: preview, diff, confirm ---------------------------------------------


def upload(client, data: bytes, name: str = "lista.csv", **fields):
    token = csrf_from(client.get("/enheter/IFO-FS/arendelistor/ny").get_data(as_text=True))
    payload = {"csrf_token": token, "fil": (io.BytesIO(data), name), **fields}
    return client.post("/enheter/IFO-FS/arendelistor/ny", data=payload, content_type="multipart/form-data")


def confirm(client, html: str):
    action = re.search(r'action="(/enheter/IFO-FS/arendelistor/forhandsgranskning/[^"]+/bekrafta)"', html).group(1)
    return client.post(action, data={"csrf_token": csrf_from(html)})


def test_preview_shows_counts_unmapped_columns_and_stores_nothing(client, world, db, handlaggare):
    login(client, "forste")
    before = db.scalar(select(func.count()).select_from(CaseListSnapshot))
    response = upload(client, GOOD)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "3 ärenden" in html and "enhetens första ärendelista" in html
    assert "Sparas inte" in html and "Personnummer, Namn" in html
    assert "Kopplade på namn (inte signatur): Bo B" in html
    assert "19121212" not in html and "Klient A" not in html
    assert db.scalar(select(func.count()).select_from(CaseListSnapshot)) == before
    assert db.scalar(select(func.count()).select_from(PendingImport)) == 1
    response = confirm(client, html)
    assert response.status_code == 302
    assert db.scalar(select(func.count()).select_from(CaseListSnapshot)) == before + 1
    assert db.scalar(select(func.count()).select_from(PendingImport)) == 0
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ärendelistan är sparad: 3 ärenden." in page and "EB-2" in page


def test_preview_diff_against_previous_snapshot(client, app, world, db):
    do_import(app, world, GOOD)
    login(client, "forste")
    new = small_csv(
        "EB-1;;;Anna A;ANAN;Grupp 1",          # unchanged
        "EB-2;;;Carl C;CACA;Grupp 2",          # moved to another handläggare
        "EB-4;;;Anna A;ANAN;Grupp 1",          # added
    )                                          # EB-3 removed
    html = upload(client, new).get_data(as_text=True)
    assert re.search(r"<strong>1</strong> nya ärenden", html)
    assert re.search(r"<strong>1</strong> ärenden finns inte längre med", html)
    assert re.search(r"<strong>1</strong> ärenden har bytt handläggare", html)
    assert "EB-4" in html and "EB-3" in html and "Bo B (BOBO)" in html and "Carl C (CACA)" in html
    assert "kunde inte kopplas" in html  # no users with those signatures


def test_refused_upload_is_swedish_keeps_overrides_and_changes_nothing(client, world, db):
    login(client, "forste")
    before = counts(db)
    response = upload(client, REFUSALS["duplicate case reference"][0], kolumn_team="Grupp")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Filen kunde inte importeras" in html and "rad 2 och rad 3" in html and "Ingenting har sparats" in html
    assert 'value="Grupp"' in html
    assert counts(db) == before
    response = client.post("/enheter/IFO-FS/arendelistor/ny", data={"csrf_token": csrf_from(html)},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "Välj en fil" in response.get_data(as_text=True)


def test_stale_preview_is_refused_after_another_import(client, app, world, db):
    login(client, "forste")
    html = upload(client, GOOD).get_data(as_text=True)
    do_import(app, world, small_csv("EB-9;;;Anna A;ANAN;G"), username="sektionschef")
    response = confirm(client, html)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "En annan ärendelista har importerats" in page
    assert db.scalar(select(func.count()).select_from(CaseListSnapshot)) == 1


def test_someone_elses_preview_cannot_be_confirmed(client, app, world, db):
    login(client, "forste")
    html = upload(client, GOOD).get_data(as_text=True)
    other = app.test_client()
    login(other, "sektionschef")
    pending_action = re.search(r'action="(/enheter/IFO-FS/arendelistor/forhandsgranskning/[^"]+/bekrafta)"', html).group(1)
    token = csrf_from(other.get("/").get_data(as_text=True))
    response = other.post(pending_action, data={"csrf_token": token})
    assert response.status_code == 302
    assert db.scalar(select(func.count()).select_from(CaseListSnapshot)) == 0


PAGES = ["/enheter/IFO-FS/arendelistor", "/enheter/IFO-FS/arendelistor/ny", "/enheter/IFO-FS/arendelistor/installningar"]


@pytest.mark.parametrize("username,expected", [
    ("forste", [200, 200, 403]),
    ("sektionschef", [200, 200, 200]),
    ("enhetschef", [200, 403, 403]),
    ("revisor", [200, 403, 403]),
    ("handlaggare", [403, 403, 403]),
    ("namnd", [403, 403, 403]),
    ("sysadmin", [403, 403, 403]),
    ("administrator", [403, 403, 403]),  # INT only
    ("forste.int", [403, 403, 403]),
])
def test_case_list_permission_matrix(client, app, world, username, expected):
    sid, *_ = do_import(app, world, GOOD)
    login(client, username)
    got = [client.get(url).status_code for url in PAGES]
    snapshot_status = client.get(f"/enheter/IFO-FS/arendelistor/{sid}").status_code
    assert got == expected
    assert snapshot_status == expected[0]


def test_snapshot_page_filters_and_never_shows_dropped_columns(client, app, world):
    sid, *_ = do_import(app, world, UTF8.read_bytes(), UTF8.name)
    login(client, "sektionschef")
    html = client.get(f"/enheter/IFO-FS/arendelistor/{sid}?handlaggare=ASOB").get_data(as_text=True)
    assert "23 ärenden matchar filtret" in html
    html = client.get(f"/enheter/IFO-FS/arendelistor/{sid}?grupp=Grupp+3").get_data(as_text=True)
    assert "81 ärenden matchar filtret" in html
    assert "Klient" not in html and "19121212" not in html


# --- mapping settings and the API ---------------------------------------------------------


def test_saved_mapping_is_used(client, app, world, db):
    login(client, "sektionschef")
    token = csrf_from(client.get("/enheter/IFO-FS/arendelistor/installningar").get_data(as_text=True))
    response = client.post("/enheter/IFO-FS/arendelistor/installningar/kolumner",
                           data={"csrf_token": token, "kolumn_case_ref": "Nummer", "kolumn_handlaggare_namn": "Vem"})
    assert response.status_code == 302
    _, n, _ = do_import(app, world, b"Nummer;Vem\r\nEB-1;Anna\r\n")
    assert n == 1


def _api_token(client):
    login(client, "sektionschef")
    token = csrf_from(client.get("/enheter/IFO-FS/arendelistor/installningar").get_data(as_text=True))
    html = client.post("/enheter/IFO-FS/arendelistor/installningar/nycklar",
                       data={"csrf_token": token, "label": "Nattlig export"}).get_data(as_text=True)
    return re.search(r"(kntr_[A-Za-z0-9_-]+)", html).group(1)


def test_api_import_with_unit_token(client, app, world, db):
    key = _api_token(client)
    api = app.test_client()
    response = api.post("/api/v1/enheter/IFO-FS/arendelista?filnamn=export.csv", data=GOOD,
                        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["importerade"] == 3
    snap = db.get(CaseListSnapshot, body["id"])
    assert snap.source == "api" and snap.sha256 == body["sha256"] and snap.source_filename == "export.csv"
    # refusal: 422 with the Swedish message, nothing stored
    before = counts(db)
    response = api.post("/api/v1/enheter/IFO-FS/arendelista", data=REFUSALS["duplicate case reference"][0],
                        headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422 and response.get_json()["rader"] == [2, 3]
    assert counts(db) == before
    # the key is for IFO-FS only
    response = api.post("/api/v1/enheter/INT/arendelista", data=GOOD, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401


def test_api_refuses_missing_wrong_and_revoked_tokens(client, app, world, db):
    key = _api_token(client)
    api = app.test_client()
    assert api.post("/api/v1/enheter/IFO-FS/arendelista", data=GOOD).status_code == 401
    assert api.post("/api/v1/enheter/IFO-FS/arendelista", data=GOOD,
                    headers={"Authorization": "Bearer kntr_fel"}).status_code == 401
    row = db.scalar(select(CaseListApiToken))
    assert key not in row.token_hash
    token = csrf_from(client.get("/enheter/IFO-FS/arendelistor/installningar").get_data(as_text=True))
    client.post(f"/enheter/IFO-FS/arendelistor/installningar/nycklar/{row.id}/aterkalla", data={"csrf_token": token})
    response = api.post("/api/v1/enheter/IFO-FS/arendelista", data=GOOD, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401 and "API-nyckel" in response.get_json()["fel"]
    assert db.scalar(select(func.count()).select_from(CaseListSnapshot)) == 0


def test_every_import_is_audited(app, world, db):
    sid, n, digest = do_import(app, world, GOOD)
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "caselist.import"))
    assert entry.object_id == str(sid) and digest in entry.details and entry.unit_id == world.ifo.id


@pytest.mark.parametrize("path", [UTF8, XLSX])
def test_digest_recomputed_in_the_database_equals_the_canonical_hash(app, world, db, path):
    sid, _, digest = do_import(app, world, path.read_bytes(), path.name)
    assert svc.stored_snapshot_digest(db, sid) == (digest, db.get(CaseListSnapshot, sid).row_count)


def test_digest_recomputation_sees_a_tampered_row(app, world, db):
    sid, _, digest = do_import(app, world, GOOD)
    engine = get_database(app).engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE snapshot_cases DISABLE TRIGGER snapshot_cases_immutable"))
        else:
            conn.execute(text("DROP TRIGGER snapshot_cases_no_update"))
        conn.execute(text("UPDATE snapshot_cases SET team = 'Grupp 9' WHERE case_ref = 'EB-2'"))
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE snapshot_cases ENABLE TRIGGER snapshot_cases_immutable"))
    assert svc.stored_snapshot_digest(db, sid)[0] != digest

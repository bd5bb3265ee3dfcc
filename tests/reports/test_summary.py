"""The yearly summary: status rules on fixed data, no identifying data with the demo,
permissions, exports and the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import select

from kontroll import demo
from kontroll.cases.models import SnapshotCase
from kontroll.core.models import Unit, User
from kontroll.db import get_database
from kontroll.reports import export
from kontroll.reports import summary as summ
from kontroll.reports.chart import comparison_svg
from kontroll.reports.models import Assessment, AssessmentImmutableError
from kontroll.sampling.models import Draw
from tests.support.web import login, post_form



# --- helpers: fixed data written directly ------------------------------------------------------


def _draw(session, unit: Unit, period: str, drawer: User, snapshot_id: int) -> Draw:
    d = Draw(unit_id=unit.id, period=period, snapshot_id=snapshot_id, snapshot_sha256="0" * 64,
             population_sha256="0" * 64, seed="0" * 32, method_name="test", method_version=1, sample_size=2,
             population_size=10, eligible_size=10, drawn_by_id=drawer.id)
    session.add(d)
    session.flush()
    return d


def _snapshot(session, unit: Unit, user: User) -> int:
    from kontroll.cases.models import CaseListSnapshot

    snap = CaseListSnapshot(unit_id=unit.id, imported_by_id=user.id, source="cli", source_filename="x.csv",
                            file_format="csv", row_count=0, sha256="0" * 64, canonical_version="1", mapping="{}",
                            imported_dt=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    session.add(snap)
    session.flush()
    return snap.id


# --- status rules ------------------------------------------------------------------------------


def test_missing_months_are_red_and_named(db, world):
    unit = world.ifo
    snap = _snapshot(db, unit, world["sektionschef"])
    for month in range(1, 13):
        if month not in (3, 7):
            _draw(db, unit, f"2024-{month:02d}", world["sektionschef"], snap)
    db.commit()
    s = summ.stickprov_summary(db, unit, 2024, dt.date(2025, 2, 1), 1)
    assert s.status == summ.ROD
    assert s.months_drawn == 10 and s.months_expected == 12
    assert s.missing == ["mars 2024", "juli 2024"]
    assert "mars 2024 och juli 2024" in " ".join(s.reasons)


def test_all_months_drawn_no_cases_is_green(db, world):
    unit = world.ifo
    snap = _snapshot(db, unit, world["sektionschef"])
    for month in range(1, 13):
        _draw(db, unit, f"2024-{month:02d}", world["sektionschef"], snap)
    db.commit()
    s = summ.stickprov_summary(db, unit, 2024, dt.date(2025, 2, 1), 1)
    assert s.status == summ.GRON and not s.missing


def test_current_year_counts_only_months_begun(db, world):
    unit = world.ifo
    snap = _snapshot(db, unit, world["sektionschef"])
    for month in (1, 2, 3):
        _draw(db, unit, f"2024-{month:02d}", world["sektionschef"], snap)
    db.commit()
    # 15 April: January–March drawn, April not yet: yellow, not red
    s = summ.stickprov_summary(db, unit, 2024, dt.date(2024, 4, 15), 1)
    assert s.months_expected == 4 and s.months_drawn == 3
    assert s.status == summ.GUL and not s.missing
    # 15 May: April has ended without a draw: red, April named
    s = summ.stickprov_summary(db, unit, 2024, dt.date(2024, 5, 15), 1)
    assert s.status == summ.ROD and s.missing == ["april 2024"]


def test_future_year_has_no_status(db, world):
    s = summ.stickprov_summary(db, world.ifo, 2031, dt.date(2026, 1, 1), 1)
    assert s.status == summ.INGEN and s.months_expected == 0


def test_genomgang_rules(db, world):
    from kontroll.genomgang.models import Genomgang

    unit = world.ifo
    # a past year with no genomgång: red
    g = summ.genomgang_summary(db, unit, 2024, dt.date(2025, 3, 1))
    assert g.status == summ.ROD
    # four planned, spread, in the current year: green (reached if they are held)
    for day in (dt.date(2025, 2, 10), dt.date(2025, 5, 10), dt.date(2025, 8, 10), dt.date(2025, 11, 10)):
        db.add(Genomgang(unit_id=unit.id, year=2025, planned_on=day, created_by_id=world["forste"].id))
    db.commit()
    g = summ.genomgang_summary(db, unit, 2025, dt.date(2025, 3, 1))
    assert g.status == summ.GRON


def test_worst_status():
    assert summ.worst(summ.GRON, summ.ROD, summ.GUL) == summ.ROD
    assert summ.worst(summ.INGEN, summ.GRON) == summ.GRON


def test_planner_matches_stats():
    p = summ.planner(0.05)
    assert p.yearly == 59 and p.monthly == 5
    assert "59" in p.sentence


def test_assessment_is_immutable(app, db, world):
    from kontroll.reports.services import sign_assessment

    with get_database(app).session_scope() as session:
        unit = session.get(Unit, world.ifo.id)
        actor = session.get(User, world["sektionschef"].id)
        first = sign_assessment(session, actor, unit, 2025, "Inga väsentliga avvikelser.")
        second = sign_assessment(session, actor, unit, 2025, "Ny version.")
        assert second.supersedes_id == first.id
    row = db.scalar(select(Assessment).order_by(Assessment.id))
    row.text = "ändrad"
    with pytest.raises(AssessmentImmutableError):
        db.flush()
    db.rollback()
    view = summ.current_assessment(db, db.get(Unit, world.ifo.id), 2025)
    assert view.text == "Ny version." and view.version == 2


def test_only_sektionschef_signs(client, db, world):
    login(client, "enhetschef")
    page = client.get("/sammanfattning/IFO-FS?ar=2025")
    assert page.status_code == 200 and "Signera bedömningen" not in page.get_data(as_text=True)
    resp = post_form(client, "/sammanfattning/IFO-FS/bedomning?ar=2025", {"text": "x"},
                     page="/sammanfattning/IFO-FS?ar=2025")
    assert resp.status_code == 403
    assert db.scalar(select(Assessment)) is None


def test_sektionschef_signs_via_form(client, db, world):
    login(client, "sektionschef")
    assert post_form(client, "/sammanfattning/IFO-FS/bedomning?ar=2025", {"text": "  "},
                     page="/sammanfattning/IFO-FS?ar=2025").status_code == 422
    resp = post_form(client, "/sammanfattning/IFO-FS/bedomning?ar=2025", {"text": "Inga väsentliga avvikelser."},
                     page="/sammanfattning/IFO-FS?ar=2025")
    assert resp.status_code == 302
    html = client.get("/sammanfattning/IFO-FS?ar=2025").get_data(as_text=True)
    assert "Inga väsentliga avvikelser." in html and "Signerad av sektionschefen" in html


# --- exports -----------------------------------------------------------------------------------


def test_csv_is_formula_safe():
    assert export.safe_cell("=SUM(A1)") == "'=SUM(A1)"
    assert export.safe_cell("+1") == "'+1"
    assert export.safe_cell("-1") == "'-1"
    assert export.safe_cell("@x") == "'@x"
    assert export.safe_cell("\tx") == "'\tx"
    assert export.safe_cell("Grön") == "Grön"


def test_chart_has_no_style():
    svg = comparison_svg([summ.YearPoint(2024, 12, 24, 2, 4), summ.YearPoint(2025, 10, 20, 0, 5)], "Test – år")
    assert "<style" not in svg and "style=" not in svg
    assert svg.startswith("<svg") and "2024" in svg


# --- with the demo data: nothing identifying ----------------------------------------------------


@pytest.fixture
def demo_app(app):
    with get_database(app).session_scope() as session:
        demo.load_demo(session)
    return app


def _secrets(db) -> set[str]:
    """Every case reference, handläggare name and signature in the database, and every
    user's full name and signature (no user appears by name in a committee view)."""
    values: set[str] = set()
    for ref, namn, sig in db.execute(select(SnapshotCase.case_ref, SnapshotCase.handlaggare_namn,
                                            SnapshotCase.handlaggare_signatur)):
        values |= {v for v in (ref, namn, sig) if v}
    for name, sig, username in db.execute(select(User.full_name, User.case_system_id, User.username)):
        values |= {v for v in (name, sig) if v}
        if "." in username:  # handläggare log in as first.last
            values.add(username)
    return values


def _leaks(text: str, secrets: set[str]) -> list[str]:
    found = []
    for value in secrets:
        if len(value) <= 3:  # short signatures: as whole words only
            if re.search(rf"(?<![\wåäöÅÄÖ]){re.escape(value)}(?![\wåäöÅÄÖ])", text):
                found.append(value)
        elif value in text:
            found.append(value)
    return found


def _pdf_text(body: bytes) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(body)).pages)
    return re.sub(r"\s+", " ", text)  # pypdf may double the spaces between words


def test_no_identifying_data_with_demo(demo_app, client, db):
    secrets = _secrets(db)
    assert len(secrets) > 20
    # the check can fail: a drawn case reference and a handläggare's name are among the secrets
    ref = db.scalar(select(Draw).where(Draw.voided_dt.is_(None)).order_by(Draw.period)).cases[0].case_ref
    assert _leaks(f"Ärende {ref}.", secrets) == [ref]
    assert _leaks("Anna Fröberg", secrets)
    units = list(db.scalars(select(Unit)))
    years = summ.years_present(db, units) + [dt.date.today().year]
    login(client, "namnd", demo.DEMO_PASSWORD)
    checked = 0
    for year in sorted(set(years)):
        targets = [("/sammanfattning", "/sammanfattning-export")] + [
            (f"/sammanfattning/{u.code}", f"/sammanfattning/{u.code}/export") for u in units]
        for page_url, export_url in targets:
            page = client.get(f"{page_url}?ar={year}")
            assert page.status_code == 200, page_url
            html = page.get_data(as_text=True)
            html = html[html.index("<main"):html.index("</main>")]  # the header names the viewer
            assert not _leaks(html, secrets), (page_url, year, _leaks(html, secrets))
            body = client.get(f"{export_url}.csv?ar={year}")
            assert body.status_code == 200 and body.data.startswith(b"\xef\xbb\xbf")
            text = body.data.decode("utf-8-sig")
            assert ";" in text and not _leaks(text, secrets), (export_url, year)
            pdf = client.get(f"{export_url}.pdf?ar={year}")
            assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
            text = _pdf_text(pdf.data)
            assert "Nämndens årssammanfattning" in text and "sida 1 av" in text
            assert not _leaks(text, secrets), (export_url, year, _leaks(text, secrets))
            svg = client.get(page_url.replace("/sammanfattning", "/sammanfattning-diagram.svg")
                             if page_url == "/sammanfattning" else f"{page_url}/diagram.svg", query_string={"ar": year})
            assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
            assert "<style" not in svg.get_data(as_text=True) and "style=" not in svg.get_data(as_text=True)
            assert not _leaks(svg.get_data(as_text=True), secrets)
            checked += 1
    assert checked >= 3


def test_demo_summary_has_the_signed_review(demo_app, db):
    units = list(db.scalars(select(Unit).where(Unit.code == "IFO-FS")))
    review = db.scalar(select(Draw).where(Draw.unit_id == units[0].id, Draw.voided_dt.is_(None))
                       .order_by(Draw.period))
    year = int(review.period[:4])
    s = summ.build_summary(db, units, year, dt.date.today())
    assert s.cases_reviewed >= 1
    assert any(a.deviating_cases >= 1 for a in s.areas)
    assert sum(a.brister for a in s.atgarder) >= 1
    assert s.coverage.handlaggare > 0 and s.coverage.never >= 0


def test_pdf_keeps_swedish_characters(demo_app, db):
    units = list(db.scalars(select(Unit).order_by(Unit.code)))
    s = summ.build_summary(db, units, dt.date.today().year, dt.date.today(), forvaltning=True)
    text = _pdf_text(export.to_pdf(s))
    assert "Hela förvaltningen" in text and "–" in text and "åtgärder" in text and "Övre gräns" in text
    assert "Brister och åtgärder per område" in text


def test_csv_parses(demo_app, db):
    units = list(db.scalars(select(Unit).order_by(Unit.code)))
    s = summ.build_summary(db, units, dt.date.today().year, dt.date.today(), forvaltning=True)
    rows = list(csv.reader(io.StringIO(export.to_csv(s).decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Nämndens årssammanfattning"
    assert ["Avvikelser per område i mallen (stickprov)"] in rows


# --- permissions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["namnd", "revisor", "sektionschef", "enhetschef", "sysadmin"])
def test_who_may_see_summaries(client, world, username):
    login(client, username)
    assert client.get("/sammanfattning").status_code == 200
    assert client.get("/sammanfattning/IFO-FS").status_code == 200
    csv_response = client.get("/sammanfattning/IFO-FS/export.csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8"  # one charset, not two
    assert client.get("/sammanfattning/IFO-FS/diagram.svg").status_code == 200


@pytest.mark.parametrize("username", ["handlaggare", "administrator", "forste"])
def test_who_may_not_see_summaries(client, world, username):
    login(client, username)
    for url in ("/sammanfattning", "/sammanfattning/IFO-FS", "/sammanfattning/IFO-FS/export.pdf",
                "/sammanfattning-export.csv", "/sammanfattning/IFO-FS/diagram.svg", "/sammanfattning-diagram.svg"):
        assert client.get(url).status_code == 403, url


def test_sektionschef_sees_own_unit_only(client, world):
    login(client, "sektionschef")
    assert client.get("/sammanfattning/INT").status_code == 403
    html = client.get("/sammanfattning").get_data(as_text=True)
    assert "IFO-FS" in html and "Integrationsenheten" not in html
    assert "Enheterna du har behörighet till" in html and "Hela förvaltningen" not in html


def test_namnd_sees_summaries_only(demo_app, client, db):
    login(client, "namnd", demo.DEMO_PASSWORD)
    draw = db.scalar(select(Draw).where(Draw.voided_dt.is_(None)).order_by(Draw.period))
    unit = db.get(Unit, draw.unit_id)
    ref = draw.cases[0].case_ref
    from kontroll.reviews.models import Atgard, Review

    review = db.scalar(select(Review))
    atgard = db.scalar(select(Atgard))
    snapshot_id = draw.snapshot_id
    urls = [f"/enheter/{unit.code}", f"/enheter/{unit.code}/stickprov", f"/enheter/{unit.code}/arendelistor",
            f"/enheter/{unit.code}/arendelistor/{snapshot_id}", f"/enheter/{unit.code}/genomgangar",
            f"/enheter/{unit.code}/granskningar", f"/enheter/{unit.code}/brister", f"/enheter/{unit.code}/atgarder",
            "/handelselogg", "/admin/anvandare"]
    app = client.application
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static",):
            continue
        values = {}
        for arg in rule.arguments:
            values[arg] = {"code": unit.code, "case_ref": ref, "draw_id": draw.id, "snapshot_id": snapshot_id,
                           "review_id": review.id if review else 1, "atgard_id": atgard.id if atgard else 1}.get(arg, 1)
        try:
            urls.append(adapter.build(rule.endpoint, values))
        except Exception:
            continue
    allowed_prefixes = ("/sammanfattning", "/logga", "/meddelanden", "/static", "/halsa", "/api/v1/openapi.json")
    #: personal pages every logged-in user has: the nämnd's are empty
    personal = {"/granskningar", "/aterkoppling", "/mitt-konto", "/mitt-konto/tvastegsverifiering"}
    secrets = _secrets(db) - {"Eva Sjöberg", "namnd"}  # the nämnd member's own name on their own pages
    for url in sorted(set(urls)):
        if url == "/" or url.startswith(allowed_prefixes):
            continue
        resp = client.get(url)
        if url in personal and resp.status_code == 200:
            html = resp.get_data(as_text=True)
            assert not _leaks(html[html.index("<main"):html.index("</main>")], secrets), url
            continue
        assert resp.status_code in (403, 404, 405), (url, resp.status_code)
    assert client.get("/sammanfattning").status_code == 200


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_report(demo_app, tmp_path, db):
    runner = demo_app.test_cli_runner()
    year = str(dt.date.today().year)
    out = tmp_path / "ifo.pdf"
    result = runner.invoke(args=["report", "year", "--unit", "ifo-fs", "--year", year, "--format", "pdf",
                                 "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF") and "sparad" in result.output
    out = tmp_path / "alla.csv"
    result = runner.invoke(args=["report", "year", "--all", "--year", year, "--format", "csv", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "INT" in out.read_bytes().decode("utf-8-sig")


def test_cli_refuses(demo_app, tmp_path):
    runner = demo_app.test_cli_runner()
    out = tmp_path / "x.pdf"
    r = runner.invoke(args=["report", "year", "--unit", "NOPE", "--year", "2025", "--format", "pdf", "--output", str(out)])
    assert r.exit_code == 1 and "finns inte" in r.output
    r = runner.invoke(args=["report", "year", "--year", "2025", "--format", "pdf", "--output", str(out)])
    assert r.exit_code == 1 and "--unit" in r.output
    r = runner.invoke(args=["report", "year", "--unit", "INT", "--all", "--year", "2025", "--format", "csv",
                            "--output", str(out)])
    assert r.exit_code == 1
    assert not out.exists()


def test_the_fingerprint_is_the_audit_chains_head_computed_when_made(demo_app, client, db):
    """The nämnd reads the chain's head hash, computed when the summary is made, on the page,
    in the CSV and in the PDF; the words about the chain are true (docs/architecture.md,
    invariant 12)."""
    from kontroll.core import audit
    from kontroll.core.models import AuditEntry

    units = list(db.scalars(select(Unit).order_by(Unit.code)))
    year = dt.date.today().year
    s = summ.build_summary(db, units, year, dt.date.today(), forvaltning=True)
    head = db.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    assert (s.fingerprint.entry_id, s.fingerprint.head_hash) == (head.id, head.entry_hash)
    assert audit.verify_chain(db, demo_app.config["AUDIT_KEY_BYTES"]).ok
    assert head.entry_hash in export.to_csv(s).decode("utf-8-sig")
    assert head.entry_hash in re.sub(r"\s+", "", _pdf_text(export.to_pdf(s)))
    login(client, "namnd", demo.DEMO_PASSWORD)
    page = client.get(f"/sammanfattning?ar={year}").get_data(as_text=True)
    assert "kedjas ännu inte" not in page and "kontroll audit verify" in page
    db.expire_all()
    # the page's own view adds entries after it was made; its hash is one of the chain's
    shown = re.search(r'<code class="hash">([0-9a-f]{64})</code>', page).group(1)
    assert db.scalar(select(AuditEntry.id).where(AuditEntry.entry_hash == shown)) is not None

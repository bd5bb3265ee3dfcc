"""A setting has one reader, and every consumer follows it: change REVIEW_LATE_AFTER_MONTHS or
TIMEZONE and the month overview, the unit page, the reminders, the committee's summary (page and
CLI export), the draw page and the scheduler all change together."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from kontroll import scheduler
from kontroll.checklists.models import TemplateVersion
from kontroll.db import get_database
from kontroll.jobs import run_job
from kontroll.sampling.models import Draw
from tests.support.web import login, post_form

TODAY = dt.date(2027, 2, 10)  # the 2026-12 draw's cases are unsigned; late after 1 month, not after 2


def _freeze_today(monkeypatch, day: dt.date) -> None:
    from kontroll.core import timezone

    moment = dt.datetime(day.year, day.month, day.day, 12, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr("kontroll.db.utcnow", lambda: moment)  # local_today() reads it
    for module in ("kontroll.reviews.views", "kontroll.reports.views", "kontroll.reports.cli"):
        monkeypatch.setattr(f"{module}.local_today", timezone.local_today)


@pytest.mark.parametrize(("months", "late"), [(1, True), (2, False)])
def test_every_consumer_follows_review_late_after_months(app, db, world, drawn, monkeypatch, tmp_path, months, late):
    app.config["REVIEW_LATE_AFTER_MONTHS"] = months
    _freeze_today(monkeypatch, TODAY)
    client = app.test_client()
    login(client, "sektionschef")

    overview = client.get("/enheter/IFO-FS/granskningar?period=2026-12").get_data(as_text=True)
    deadline = "2027-01-31" if months == 1 else "2027-02-28"
    assert f"klarmarkerad senast {deadline}" in overview
    assert ('tag-bad">Försenad' in overview) is late

    unit_page = client.get("/enheter/IFO-FS").get_data(as_text=True)
    assert ("2 försenade" in unit_page) is late

    reminders = run_job(get_database(app), "late_reviews", TODAY, app.config)
    assert reminders.summary.startswith("2 försenade granskningar" if late else "0 försenade granskningar")

    rule = "under månaden efter den dragna månaden" if months == 1 else "inom 2 månader efter den dragna månaden"
    summary = client.get("/sammanfattning/IFO-FS?ar=2026").get_data(as_text=True)
    assert rule in summary
    output = tmp_path / "sammanfattning.csv"
    result = app.test_cli_runner().invoke(args=["report", "year", "--unit", "IFO-FS", "--year", "2026",
                                                "--format", "csv", "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert rule in output.read_bytes().decode("utf-8-sig")


@pytest.mark.parametrize(("zone", "month", "label", "day"), [
    ("Pacific/Kiritimati", "2027-01", "januari 2027", dt.date(2027, 1, 1)),  # UTC+14
    ("Pacific/Pago_Pago", "2026-12", "december 2026", dt.date(2026, 12, 31)),  # UTC−11
])
def test_every_consumer_follows_timezone(app, db, world, unit_setup, monkeypatch, zone, month, label, day):
    """At 12:00 UTC on 31 December it is already New Year's Day in one zone and still the
    morning of the 31st in the other: the draw's month, the draw page and the scheduler's day follow."""
    app.config["TIMEZONE"] = zone
    moment = dt.datetime(2026, 12, 31, 12, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr("kontroll.db.utcnow", lambda: moment)
    monkeypatch.setattr("kontroll.sampling.views.utcnow", lambda: moment)
    assert scheduler.local_today(app.config) == day

    client = app.test_client()
    login(client, "sektionschef")
    page = client.get("/enheter/IFO-FS/stickprov").get_data(as_text=True)
    assert label in page
    response = post_form(client, "/enheter/IFO-FS/stickprov", {}, page="/enheter/IFO-FS/stickprov")
    assert response.status_code == 302
    db.expire_all()
    assert list(db.scalars(select(Draw.period))) == [month]


def test_the_review_follows_stickprov_template(app, db, world, drawn, checklists):
    """STICKPROV_TEMPLATE names the template a review answers; the page that opens one and the
    review it opens both use it."""
    source = (checklists / "stickprov-forsorjningsstod.toml").read_text(encoding="utf-8")
    (checklists / "stickprov-eget.toml").write_text(
        source.replace('id = "stickprov-forsorjningsstod"', 'id = "stickprov-eget"')
        .replace('title = "Stickprovsgranskning – försörjningsstöd"', 'title = "Enhetens egen stickprovsmall"', 1),
        encoding="utf-8")
    app.config["STICKPROV_TEMPLATE"] = "stickprov-eget"
    client = app.test_client()
    login(client, "enhetschef")
    url = f"/granskningar/arende/{drawn['cases'][0]}"
    assert "Enhetens egen stickprovsmall" in client.get(url).get_data(as_text=True)
    assert post_form(client, url, {}, page=url).status_code == 302
    version = db.scalar(select(TemplateVersion))
    assert version is not None and version.template_id == "stickprov-eget"

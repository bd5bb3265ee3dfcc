"""The committee's yearly summary: page, chart (SVG), exports (CSV, PDF) and the bedömning form.

Nothing served here identifies a client or a handläggare (docs/architecture.md, invariant 5).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.core.actions import Confirm, form_action, page_again, unit_with
from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit, User
from kontroll.core.periods import late_after_months
from kontroll.core.permissions import Perm, PermissionDenied, can, units_where
from kontroll.core.timezone import local_today
from kontroll.core.web import acting_user, login_required, year_arg
from kontroll.db import get_session
from kontroll.reports import export, services
from kontroll.reports import summary as summ
from kontroll.reports.chart import comparison_svg

bp = Blueprint("reports", __name__)

HISTORY_YEARS = 6


def _tolerable_arg() -> tuple[float, str | None]:
    raw = (request.args.get("tolerabel") or "5").strip().replace(",", ".").rstrip("%").strip()
    try:
        value = float(raw)
    except ValueError:
        return 0.05, "Skriv den tolerabla felandelen som ett tal i procent, till exempel 5."
    if not 0.1 <= value <= 50:
        return 0.05, "Den tolerabla felandelen ska vara mellan 0,1 och 50 procent."
    return value / 100, None


def _visible_units() -> list[Unit]:
    units = units_where(get_session(), acting_user(), Perm.VIEW_SUMMARY)
    if not units:
        raise PermissionDenied()
    return units


def _build(units: list[Unit], year: int, forvaltning: bool) -> summ.Summary:
    title = None
    if forvaltning:
        active = get_session().scalar(select(func.count()).select_from(Unit).where(Unit.is_active.is_(True))) or 0
        if len(units) < active:
            title = "Enheterna du har behörighet till"
    return summ.build_summary(get_session(), units, year, local_today(), forvaltning=forvaltning, title=title,
                              late_months=late_after_months(current_app.config))


def _render(units: list[Unit], year: int, unit: Unit | None, error: ValidationError | None = None,
            status: int = 200) -> Response:
    db = get_session()
    s = _build(units, year, unit is None)
    tolerable, planner_error = _tolerable_arg()
    points = summ.history(db, units, year, HISTORY_YEARS)
    html = render_template(
        "reports/summary.html", s=s, unit=unit, year=year, points=points,
        planner=summ.planner(tolerable), planner_error=planner_error,
        tolerable_text=request.args.get("tolerabel", "5"),
        rules=s.rules, labels=summ.STATUS_LABELS, tags=summ.STATUS_TAGS,
        years=sorted(set(summ.years_present(db, units)) | {local_today().year}, reverse=True),
        can_sign=unit is not None and can(acting_user(), Perm.SIGN_ASSESSMENT, unit),
        all_units=unit is None and len(units) > 0,
        error=error, form=request.form if error else {},
    )
    return Response(html, status=status)


@bp.get("/sammanfattning")
@login_required
def forvaltning() -> Response:
    return _render(_visible_units(), year_arg(local_today()), None)


@bp.get("/sammanfattning/<code>")
@login_required
def unit_summary(code: str) -> Response:
    unit = unit_with(code, Perm.VIEW_SUMMARY)
    return _render([unit], year_arg(local_today()), unit)


@bp.post("/sammanfattning/<code>/bedomning")
@login_required
def sign(code: str) -> Response:
    unit = unit_with(code, Perm.SIGN_ASSESSMENT)
    year = year_arg(local_today())
    back = url_for("reports.unit_summary", code=unit.code, ar=year) + "#bedomning"
    return form_action(
        lambda db: services.sign_assessment(db, acting_user(), unit, year, request.form.get("text", "")),
        on_error=page_again(lambda err, status: _render([unit], year, unit, err, status)),
        done=f"Bedömningen för {year} är signerad.",
        then=back,
        confirm=Confirm(
            title=f"Signera bedömningen för {year} ({unit.code})?",
            consequences=("Nämnden läser bedömningen i årssammanfattningen, med datum för signeringen.",
                          "En signerad bedömning kan inte ändras. En ändring blir en ny version, och den tidigare "
                          "syns kvar."),
            button="Ja, signera bedömningen", back=back),
    )


def _svg(units: list[Unit], year: int, title: str) -> Response:
    points = summ.history(get_session(), units, year, HISTORY_YEARS)
    resp = Response(comparison_svg(points, title), mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/sammanfattning-diagram.svg")
@login_required
def forvaltning_chart() -> Response:
    year = year_arg(local_today())
    return _svg(_visible_units(), year, "Granskade ärenden och ärenden med brist per år – förvaltningen")


@bp.get("/sammanfattning/<code>/diagram.svg")
@login_required
def unit_chart(code: str) -> Response:
    unit = unit_with(code, Perm.VIEW_SUMMARY)
    return _svg([unit], year_arg(local_today()), f"Granskade ärenden och ärenden med brist per år – {unit.code}")


def _export(units: list[Unit], year: int, forvaltning: bool, fmt: str, slug: str) -> Response:
    s = _build(units, year, forvaltning)
    if fmt == "csv":
        body, mime = export.to_csv(s), "text/csv; charset=utf-8"  # one charset: set as content_type
    elif fmt == "pdf":
        body, mime = export.to_pdf(s), "application/pdf"
    else:
        abort(404)
    resp = Response(body, content_type=mime)
    resp.headers["Content-Disposition"] = f'attachment; filename="sammanfattning-{slug}-{year}.{fmt}"'
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@bp.get("/sammanfattning-export.<fmt>")
@login_required
def forvaltning_export(fmt: str) -> Response:
    return _export(_visible_units(), year_arg(local_today()), True, fmt, "forvaltningen")


@bp.get("/sammanfattning/<code>/export.<fmt>")
@login_required
def unit_export(code: str, fmt: str) -> Response:
    unit = unit_with(code, Perm.VIEW_SUMMARY)
    return _export([unit], year_arg(local_today()), False, fmt, unit.code.lower())


def start_cards(db: Session, user: User) -> list[tuple[str, dict[str, Any]]]:
    """The card of those who read the yearly summary."""
    return [("reports/_start_card.html", {})] if units_where(db, user, Perm.VIEW_SUMMARY) else []

"""Pages for case lists: upload with preview, snapshots, settings; and the JSON API."""

from __future__ import annotations

import json
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.cases import services as svc
from kontroll.cases.models import CaseListApiToken, CaseListSnapshot
from kontroll.cases.parsing import FIELD_LABELS, FIELDS, CaseListError, ImportLimits
from kontroll.core import audit
from kontroll.core.actions import (
    Page,
    back_to,
    form_action,
    of_unit,
    page_again,
    unit_with,
)
from kontroll.core.errors import ValidationError
from kontroll.core.models import Unit, User
from kontroll.core.permissions import Perm, can
from kontroll.core.web import acting_user, csrf_exempt, flash, login_required
from kontroll.db import get_session
from kontroll.privacy.models import redaction_sentences

bp = Blueprint("cases", __name__, url_prefix="/enheter/<code>/arendelistor")
api = Blueprint("cases_api", __name__, url_prefix="/api/v1")

PAGE_SIZE = 100




def _overrides_from_form() -> dict[str, str]:
    return {f: request.form.get(f"kolumn_{f}", "").strip() for f in FIELDS if request.form.get(f"kolumn_{f}", "").strip()}


@bp.get("")
@login_required
def snapshots(code: str) -> str:
    unit = unit_with(code, Perm.VIEW_CASELIST)
    db = get_session()
    page = Page.of(svc.snapshot_count(db, unit), PAGE_SIZE)
    return render_template("cases/snapshots.html", unit=unit, snapshots=svc.snapshots_of(db, unit, page.offset, page.size),
                           page=page.number, pages=page.pages, total=page.total)


def _render_upload(unit: Unit, error: CaseListError | ValidationError | None = None, status: int = 200) -> Response:
    db = get_session()
    html = render_template(
        "cases/upload.html", unit=unit, error=error, fields=FIELDS, labels=FIELD_LABELS,
        saved=svc.saved_mapping(db, unit), form=request.form,
    )
    return Response(html, status=status)


@bp.get("/ny")
@login_required
def upload_form(code: str) -> Response:
    return _render_upload(unit_with(code, Perm.IMPORT_CASELIST))


@bp.post("/ny")
@login_required
def upload(code: str) -> Response:
    unit = unit_with(code, Perm.IMPORT_CASELIST)
    db = get_session()
    file = request.files.get("fil")
    if file is None or not file.filename:
        return _render_upload(unit, ValidationError("Välj en fil att ladda upp.", "fil"), 422)
    data = file.read()
    try:
        preview = svc.prepare_import(db, unit, data, file.filename, _overrides_from_form(),
                                     limits=ImportLimits.from_config(current_app.config))
    except CaseListError as err:
        db.rollback()
        return _render_upload(unit, err, 422)
    pending = svc.save_pending(db, acting_user(), preview)
    audit.record(db, acting_user(), "caselist.preview", object_type="unit", object_id=unit.id, unit=unit,
                 details={"rows": preview.row_count, "sha256": preview.sha256})
    db.commit()
    return Response(render_template("cases/preview.html", unit=unit, p=preview, pending=pending,
                                    labels=FIELD_LABELS), 200)


@bp.post("/forhandsgranskning/<pending_id>/bekrafta")
@login_required
def confirm(code: str, pending_id: str) -> Response:
    unit = unit_with(code, Perm.IMPORT_CASELIST)
    db = get_session()
    try:
        snapshot = svc.confirm_pending(db, acting_user(), unit, pending_id)
    except ValidationError as err:
        db.commit()  # not form_action: the refusal keeps one change, a stale preview removed
        flash(err.message, "error")
        return redirect(url_for("cases.upload_form", code=unit.code))
    db.commit()
    flash(f"Ärendelistan är sparad: {snapshot.row_count} ärenden.", "success")
    return redirect(url_for("cases.snapshot", code=unit.code, snapshot_id=snapshot.id))


@bp.post("/forhandsgranskning/<pending_id>/avbryt")
@login_required
def cancel(code: str, pending_id: str) -> Response:
    unit = unit_with(code, Perm.IMPORT_CASELIST)
    return form_action(lambda db: svc.cancel_pending(db, acting_user(), pending_id),
                       on_error=back_to(url_for("cases.snapshots", code=unit.code)),
                       then=url_for("cases.snapshots", code=unit.code),
                       done="Importen är avbruten. Ingenting sparades.", category="info")


@bp.get("/<int:snapshot_id>")
@login_required
def snapshot(code: str, snapshot_id: int) -> str:
    unit = unit_with(code, Perm.VIEW_CASELIST)
    db = get_session()
    snap = of_unit(CaseListSnapshot, snapshot_id, unit)
    handlaggare = request.args.get("handlaggare", "").strip()
    team = request.args.get("grupp", "").strip()
    page = Page.of(svc.snapshot_case_count(db, snap, handlaggare, team), PAGE_SIZE)
    cases = svc.snapshot_cases(db, snap, handlaggare, team, page.offset, page.size)
    audit.record_view(db, acting_user(), "caselist.view", object_type="case_list_snapshot", object_id=snap.id,
                      unit=unit)
    return render_template(
        "cases/snapshot.html", unit=unit, snap=snap, cases=cases, total=page.total, page=page.number,
        pages=page.pages, options=svc.snapshot_filter_options(db, snap),
        filters={"handlaggare": handlaggare, "grupp": team}, mapping=json.loads(snap.mapping), labels=FIELD_LABELS,
        redactions=redaction_sentences(db, snap.id),
    )


# --- settings -----------------------------------------------------------------------------


def _render_settings(unit: Unit, error: ValidationError | None = None, new_token: str | None = None,
                     status: int = 200) -> Response:
    db = get_session()
    tokens = list(db.scalars(select(CaseListApiToken).where(CaseListApiToken.unit_id == unit.id)
                             .order_by(CaseListApiToken.created_dt.desc())))
    html = render_template("cases/settings.html", unit=unit, fields=FIELDS, labels=FIELD_LABELS,
                           mapping=svc.saved_mapping(db, unit), tokens=tokens, error=error, new_token=new_token,
                           form=request.form if error else {})
    return Response(html, status=status)


@bp.get("/installningar")
@login_required
def settings(code: str) -> Response:
    return _render_settings(unit_with(code, Perm.MANAGE_CASELIST_SETTINGS))


def _settings_action(unit: Unit, action, done: str) -> Response:  # type: ignore[no-untyped-def]
    return form_action(action, on_error=page_again(lambda err, status: _render_settings(unit, err, status=status)),
                       then=url_for("cases.settings", code=unit.code), done=done)


@bp.post("/installningar/kolumner")
@login_required
def save_mapping(code: str) -> Response:
    unit = unit_with(code, Perm.MANAGE_CASELIST_SETTINGS)
    mapping = {f: request.form.get(f"kolumn_{f}", "") for f in FIELDS}
    return _settings_action(unit, lambda db: svc.save_mapping(db, acting_user(), unit, mapping),
                            "Kolumnmappningen är sparad.")


@bp.post("/installningar/nycklar")
@login_required
def create_token(code: str) -> Response:
    unit = unit_with(code, Perm.MANAGE_CASELIST_SETTINGS)
    db = get_session()  # not form_action: the new key is shown once, on this page, not after a redirect
    try:
        token, _row = svc.create_api_token(db, acting_user(), unit, request.form.get("label", ""))
    except ValidationError as err:
        db.rollback()
        return _render_settings(unit, err, status=422)
    db.commit()
    return _render_settings(unit, new_token=token)


@bp.post("/installningar/nycklar/<int:token_id>/aterkalla")
@login_required
def revoke_token(code: str, token_id: int) -> Response:
    unit = unit_with(code, Perm.MANAGE_CASELIST_SETTINGS)
    return _settings_action(unit, lambda db: svc.revoke_api_token(db, acting_user(), unit, token_id),
                            "Nyckeln är återkallad.")


# --- JSON API -----------------------------------------------------------------------------


def _json(data: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json")


@api.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI document of this API (no login needed)."""
    from kontroll.cases.openapi import openapi_document

    return _json(openapi_document(), 200)


@api.post("/enheter/<code>/arendelista")
@csrf_exempt
def api_import(code: str) -> Response:
    """Import a case list as a new snapshot. ``Authorization: Bearer <unit token>``; the body
    is the file (CSV or XLSX); ``?filnamn=`` names it for the record; ``?kolumn=falt=Rubrik``
    (repeatable) overrides the column mapping."""
    db = get_session()
    unit = db.scalar(select(Unit).where(Unit.code == code.upper()))
    auth_header = request.headers.get("Authorization", "")
    token = auth_header[7:].strip() if auth_header.lower().startswith("bearer ") else ""
    user = svc.token_user(db, unit, token) if unit is not None else None
    if unit is None or user is None:
        db.rollback()
        return _json({"fel": "Saknad eller ogiltig API-nyckel för enheten."}, 401)
    overrides: dict[str, str] = {}
    for item in request.args.getlist("kolumn"):
        key, sep, header = item.partition("=")
        if not sep:
            return _json({"fel": f"Kolumnangivelsen ”{item}” ska skrivas fält=Rubrik."}, 422)
        overrides[key.strip()] = header.strip()
    data = request.get_data(cache=False)
    try:
        snap = svc.import_file(db, user, unit, data, request.args.get("filnamn", "api-import"),
                               overrides=overrides, source="api", limits=ImportLimits.from_config(current_app.config))
    except CaseListError as err:
        db.rollback()
        return _json({"fel": err.message, "kolumn": err.column, "rader": err.rows}, 422)
    except ValidationError as err:
        db.rollback()
        return _json({"fel": err.message}, 422)
    db.commit()
    return _json({"id": snap.id, "importerade": snap.row_count, "sha256": snap.sha256,
                  "meddelande": f"Importerade {snap.row_count} ärenden (sha256 {snap.sha256})"}, 201)


def unit_section(db: Session, user: User, unit: Unit) -> tuple[str, dict[str, Any]] | None:
    if not can(user, Perm.VIEW_CASELIST, unit):
        return None
    return "cases/_unit_section.html", {
        "latest": svc.latest_snapshot(db, unit),
        "can_import": can(user, Perm.IMPORT_CASELIST, unit),
        "can_settings": can(user, Perm.MANAGE_CASELIST_SETTINGS, unit),
    }


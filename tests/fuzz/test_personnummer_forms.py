"""Every free-text form refuses a personnummer in any spelling (docs/architecture.md, invariant 8): for
each form field where people write text, a generated number in a generated spelling, inside
ordinary words, is refused with a message that names the field, says "personnummer" and does
not repeat the number; and nothing in the database changes.

The forms are posted by the user who may use them, with every other field valid, on the fuzz
scene (tests/support/scene.py)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from kontroll.core.models import UserSession
from kontroll.db import get_database
from kontroll.privacy.personnummer import SPELLINGS, luhn_digit
from tests.support.forms import build_path, clear_flashes, login_as, post_rule
from tests.support.scene import Scene, diff, table_rows

pytestmark = pytest.mark.fuzz

TODAY = dt.date.today()


@dataclass
class FreeText:
    user: str
    endpoint: str
    params: Callable[[Scene], dict[str, str]]
    body: Callable[[Scene], dict[str, str]]
    field: Callable[[Scene], str]


def _review_body(s: Scene) -> dict[str, str]:
    body = {"action": "spara"}
    for key, answers in s.review_items:
        body[f"svar-{key}"] = "ja" if "ja" in answers else answers[0]
    return body


FORMS: dict[str, FreeText] = {
    "användarens namn": FreeText("sysadmin", "admin.user_new", lambda s: {},
                                 lambda s: {"username": "ny.person", "full_name": "Ny Person"}, lambda s: "full_name"),
    "signatur": FreeText("sysadmin", "admin.user_update", lambda s: {"user_id": str(s.users["anna"])},
                         lambda s: {"full_name": "Anna", "case_system_id": "ANAN"}, lambda s: "case_system_id"),
    "enhetens namn": FreeText("sysadmin", "admin.unit_update", lambda s: {"code": "IFO-FS"},
                              lambda s: {"name": "Försörjningsstöd", "drawer_role": "sektionschef", "sample_size": "2",
                                         "genomgang_min": "4", "genomgang_max": "6",
                                         "hemmablindhet_protection": "ja", "stratify_by_team": "nej",
                                         "exclude_reviewed_months": "0", "snapshot_max_age_days": "35"},
                              lambda s: "name"),
    "gruppens namn": FreeText("sysadmin", "admin.team_create", lambda s: {"code": "IFO-FS"},
                              lambda s: {"team_name": "Grupp 9"}, lambda s: "team_name"),
    "kolumnrubrik": FreeText("sektionschef", "cases.save_mapping", lambda s: {"code": "IFO-FS"},
                             lambda s: {"kolumn_case_ref": "Ärendenummer", "kolumn_team": "Grupp"},
                             lambda s: "kolumn_team"),
    "nyckelns beskrivning": FreeText("sektionschef", "cases.create_token", lambda s: {"code": "IFO-FS"},
                                     lambda s: {"label": "Systemet"}, lambda s: "label"),
    "omdragningens motivering": FreeText("sektionschef", "sampling.redraw",
                                         lambda s: {"code": "IFO-FS", "draw_id": str(s.draw_id)},
                                         lambda s: {"reason": "Ärendelistan saknade en grupp."}, lambda s: "reason"),
    "granskningens kommentar": FreeText("enhetschef", "reviews.answer", lambda s: {"review_id": str(s.draft_review)},
                                        _review_body, lambda s: f"kommentar-{s.review_items[0][0]}"),
    "återkopplingens anteckning": FreeText("enhetschef", "reviews.feedback",
                                           lambda s: {"review_id": str(s.signed_review)},
                                           lambda s: {"given_on": TODAY.isoformat(), "method": "muntligt",
                                                      "note": "Pratade om det."}, lambda s: "note"),
    "åtgärdens beskrivning": FreeText("sektionschef", "reviews.atgard_create", lambda s: {"code": "IFO-FS"},
                                      lambda s: {"brister": str(s.brister[0]), "description": "Gå igenom rutinen.",
                                                 "owner": str(s.users["enhetschef"]),
                                                 "due_date": (TODAY + dt.timedelta(days=30)).isoformat()},
                                      lambda s: "description"),
    "vad som gjorts": FreeText("enhetschef", "reviews.atgard_done",
                               lambda s: {"code": "IFO-FS", "atgard_id": str(s.atgard_open)},
                               lambda s: {"done_note": "Genomfört på mötet."}, lambda s: "done_note"),
    "verifieringens anteckning": FreeText("sektionschef", "reviews.atgard_verify",
                                          lambda s: {"code": "IFO-FS", "atgard_id": str(s.atgard_done)},
                                          lambda s: {"verified_note": "Syns i nästa stickprov."},
                                          lambda s: "verified_note"),
    "genomgångens kommentar": FreeText("forste", "genomgang.record",
                                       lambda s: {"code": "IFO-FS", "genomgang_id": str(s.genomgang_started),
                                                  "case_id": str(s.snapshot_cases[0])},
                                       lambda s: {"result": "brist", f"brist-{s.genomgang_areas[0]}": "1",
                                                  f"kommentar-{s.genomgang_areas[0]}": "Saknas."},
                                       lambda s: f"kommentar-{s.genomgang_areas[0]}"),
    "genomgångens återkoppling": FreeText("forste", "genomgang.feedback",
                                          lambda s: {"code": "IFO-FS", "genomgang_id": str(s.genomgang_started)},
                                          lambda s: {"handlaggare": "ANAN", "given_on": TODAY.isoformat(),
                                                     "note": "Pratade om det."}, lambda s: "note"),
    "bedömningen": FreeText("sektionschef", "reports.sign", lambda s: {"code": "IFO-FS"},
                            lambda s: {"text": "Kontrollen fungerar."}, lambda s: "text"),
}


@st.composite
def spelled(draw) -> tuple[str, str]:
    """(text with a personnummer in some spelling inside words, its last four digits)."""
    day = draw(st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2024, 12, 31)))
    ten = f"{day:%y%m%d}{draw(st.integers(0, 999)):03d}"
    twelve = f"{day.year // 100}{ten}{luhn_digit(ten)}"
    _name, make, _needs = draw(st.sampled_from(SPELLINGS))
    before = draw(st.sampled_from(["Klienten ", "Se ", "", "Ang. "]))
    return f"{before}{make(twelve)} har kontaktat oss.", twelve[-4:]


def _error_flashes(app: Flask) -> list[str]:
    engine = get_database(app).engine.execution_options(kontroll_autocommit=True)
    with engine.connect() as conn:
        rows = conn.execute(select(UserSession.flashes).where(UserSession.flashes.is_not(None))).scalars()
        return [msg for flashes in rows for cat, msg in json.loads(flashes) if cat == "error"]


@pytest.mark.parametrize("label", sorted(FORMS))
@settings(max_examples=int(__import__("os").environ.get("KONTROLL_FUZZ_EXAMPLES", "6")), deadline=None,
          database=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=spelled())
def test_every_free_text_form_refuses_a_personnummer(app: Flask, client: Any, scene: Scene, label: str,
                                                    case: tuple[str, str]) -> None:
    form = FORMS[label]
    text, last_four = case
    token = login_as(app, client, form.user, scene)
    body = {**form.body(scene), form.field(scene): text, "csrf_token": token}
    path = build_path(post_rule(app, form.endpoint), form.params(scene))
    clear_flashes(app)
    before = table_rows(app)
    response = client.post(path, data=body)
    html = response.get_data(as_text=True)
    said = html if response.status_code != 302 else " ".join(_error_flashes(app))
    assert response.status_code in (200, 302, 422), response.status_code
    assert "personnummer" in said, f"{label}: {response.status_code}"
    message = said.split('id="felmeddelande"')[1] if 'id="felmeddelande"' in said else said
    assert last_four + " har kontaktat" not in message.split("<textarea")[0].split("<input")[0]
    changes = diff(before, table_rows(app))
    assert not changes, f"{label}: {changes}"

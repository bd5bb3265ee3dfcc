"""Every action that cannot be undone asks first (kontroll.core.actions.Confirm): the first POST
changes nothing and answers a page that says what will happen, with the form's own fields and
the confirmation; posting that page acts. A refusal is shown at once, before anyone confirms.

The actions run in the fuzz tests' municipality (tests/support/scene.py), whose snapshot of
every table shows that the first POST left the database as it was."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kontroll.core.actions import CONFIRMED_FIELD
from tests.support.forms import login_as
from tests.support.scene import Scene, diff, table_rows
from tests.support.web import csrf_from, post_form


def _review_form(scene: Scene) -> dict[str, str]:
    data = {"action": "klarmarkera"}
    for key, answers in scene.review_items:
        data[f"svar-{key}"] = "ja" if "ja" in answers else answers[0]
        data[f"kommentar-{key}"] = f"Anteckning om {key}."
    return data


#: (who, path, form, words of the confirmation page's question, what the action changes)
ACTIONS: dict[str, tuple[str, Any, Any, str, str]] = {
    "dra om stickprovet": ("sektionschef", lambda s: f"/enheter/IFO-FS/stickprov/{s.draw_id}/omdragning",
                           lambda s: {"reason": "Fel ärendelista användes."}, "Dra om stickprovet för", "draws"),
    "klarmarkera granskningen": ("enhetschef", lambda s: f"/granskningar/{s.draft_review}", _review_form,
                                 "Klarmarkera granskningen av", "reviews"),
    "verifiera åtgärden": ("sektionschef", lambda s: f"/enheter/IFO-FS/atgarder/{s.atgard_done}/verifiera",
                           lambda s: {"verified_note": "Kontrollerat i nästa stickprov."}, "Verifiera åtgärden?",
                           "atgarder"),
    "ta bort en planerad genomgång": ("forste", lambda s: f"/enheter/IFO-FS/genomgangar/{s.genomgang_planned}/ta-bort",
                                      lambda s: {}, "Ta bort den planerade genomgången den", "genomgangar"),
    "signera bedömningen": ("sektionschef", lambda s: f"/sammanfattning/IFO-FS/bedomning?ar={dt.date.today().year}",
                            lambda s: {"text": "Kontrollen har fungerat som planerat under året."},
                            "Signera bedömningen för", "assessments"),
    "stäng av en användare": ("sysadmin", lambda s: f"/admin/anvandare/{s.users['handlaggare']}/stang-av",
                              lambda s: {}, "Stäng av Handlaggare?", "users"),
}


def _hidden_fields(page: str) -> tuple[str, list[tuple[str, str]]]:
    form = re.search(r'<form method="post" action="([^"]+)" class="card confirm-form">(.*?)</form>', page, re.S)
    assert form, "no confirmation form in the page"
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2))
    return html.unescape(form.group(1)), [(html.unescape(n), html.unescape(v)) for n, v in fields]


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_an_irreversible_action_asks_first_and_acts_when_confirmed(app: Flask, client: FlaskClient, scene: Scene,
                                                                   name: str) -> None:
    username, path, form, question, table = ACTIONS[name]
    login_as(app, client, username, scene)
    url, data = path(scene), form(scene)
    before = table_rows(app)

    first = post_form(client, url, data, confirmed=False)
    page = first.get_data(as_text=True)
    assert first.status_code == 200, page[:2000]
    assert question in html.unescape(page)
    assert "Det här händer om du fortsätter" in page and "Avbryt" in page
    assert diff(before, table_rows(app)) == {}, "the first POST changed the database"

    action, fields = _hidden_fields(page)
    assert action == url
    assert (CONFIRMED_FIELD, "ja") in fields
    sent = {n: v for n, v in fields if n not in ("csrf_token", CONFIRMED_FIELD)}
    assert sent == data, "the confirmation page must post the same form again"

    confirmed = client.post(action, data=dict(fields))
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)[:2000]
    assert table in diff(before, table_rows(app))


def test_a_refusal_is_shown_before_anyone_confirms(app: Flask, client: FlaskClient, scene: Scene) -> None:
    """Closing a genomgång with cases not yet gone through is refused at the first click: the
    refusal, not a question whose answer would be refused."""
    login_as(app, client, "forste", scene)
    before = table_rows(app)
    response = post_form(client, f"/enheter/IFO-FS/genomgangar/{scene.genomgang_started}/stang", {}, confirmed=False)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Det här händer om du fortsätter" not in page
    assert 'id="felmeddelande"' in page
    assert diff(before, table_rows(app)) == {}


def test_a_confirmation_page_sends_the_csrf_token_of_the_session(app: Flask, client: FlaskClient, scene: Scene) -> None:
    """The confirmation page is a form like any other: its own CSRF token, so it cannot be
    replayed from another session."""
    login_as(app, client, "forste", scene)
    page = post_form(client, f"/enheter/IFO-FS/genomgangar/{scene.genomgang_planned}/ta-bort", {},
                     confirmed=False).get_data(as_text=True)
    assert csrf_from(page) == csrf_from(client.get("/").get_data(as_text=True))

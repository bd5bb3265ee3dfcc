"""Property-based: every form of the app (every POST route in the URL map), posted with
hypothesis-generated bodies by a user who may use it, and sometimes by one who may not.

Properties, for every request:
- the answer is never a 5xx and never shows a traceback;
- a refusal changes nothing in the database.

A refusal is a 4xx (including the stale-form page for a missing or wrong CSRF token), a 200
that re-renders the form with its error summary (``id="felmeddelande"``, the templates'
``error_summary`` macro), or a redirect that queues a flash message of category "error".

"Nothing" is every row of every table, with these exceptions, each a deliberate design:
- ``user_sessions.last_seen_dt`` and ``user_sessions.flashes`` (every request refreshes the
  visitor's last-seen time; flash messages live in the session row); new anonymous visitor
  sessions (the login and stale-form pages start one). Who is logged in, the session tokens
  and the CSRF secret must not change.
- a failed login (password or two-step code) keeps its failure count and lock
  (``users.failed_login_count``, ``users.locked_until_dt``, and ``login_attempts`` for unknown
  names and per client address) and its audit entry
  (``login.failure``, ``login.locked``, ``login.inactive``): counting failures in the database
  is the brute-force defence.
- a wrong code when turning two-step verification on or off keeps its audit entry
  (``totp.failure``), for the same reason.
- confirming a preview that has gone stale (another list was imported since) deletes that
  preview (``pending_imports``): the refusal tells the user to upload again.
No other refusal is audited; refused changes roll back with their audit entries.

The table ``ROUTES`` must name every POST route: a new form without an entry fails
``test_every_form_is_fuzzed``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from kontroll.cases.parsing import FIELDS
from kontroll.core.actions import CONFIRMED_FIELD
from kontroll.core.models import Role
from kontroll.reviews.services import FEEDBACK_METHODS
from tests.support.app import PASSWORD
from tests.support.forms import (
    build_path,
    clear_flashes,
    is_refusal,
    login_as,
    post_rule,
    session_row,
)
from tests.support.scene import COLUMNS, Scene, case_list, diff, table_rows
from tests.support.web import csrf_from

pytestmark = pytest.mark.fuzz

MAX_EXAMPLES = int(os.environ.get("KONTROLL_FUZZ_EXAMPLES", "25"))
#: Shrinking a failure replays hundreds of requests (minutes); set KONTROLL_FUZZ_SHRINK=1 for a
#: minimal failing example. Unshrunk, the failure still names the request and the change.
PHASES = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + (
    [Phase.shrink] if os.environ.get("KONTROLL_FUZZ_SHRINK") == "1" else [])

# --- values -----------------------------------------------------------------------------------

SPECIAL = [
    "", " ", "\x00", "a\x00b", "\u202eevil\u202c", "\u200f\u05e9\u05dc\u05d5\u05dd", "مرحبا", "🙂👍🏽", "ÅÄÖ åäö",
    "\ufeff", "\r\n", "\t", "-1", "0", "1", "2", "-99999999999999999999", "99999999999999999999999", "1e309",
    "NaN", "inf", "0x10", "1.5", "1,5", "2024-02-30", "2024-13-01", "0000-01-01", "0001-01-01", "9999-12-31",
    "31/12/2024", "2025-01-01T00:00", "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc/passwd",
    "null", "[]", "{}", '[["a","b"]]', "ja", "nej", "klarmarkera", "spara", "brist", "utan_anmarkning",
]

HUGE = st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "å", "\x00", "🙂", "\u202e", "9"]),
                 st.sampled_from([201, 256, 1001, 5001, 70_000]))

NASTY = st.one_of(st.sampled_from(SPECIAL), st.text(max_size=30), HUGE)


def weighted(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any], percent_good: int) -> st.SearchStrategy[Any]:
    return st.integers(0, 99).flatmap(lambda i: good if i < percent_good else bad)


def value(*plausible: Any) -> st.SearchStrategy[str]:
    """A plausible value for a field most of the time, something nasty otherwise."""
    good = [st.just(p) if isinstance(p, str) else p for p in plausible]
    if not good:
        return NASTY
    return weighted(st.one_of(*good), NASTY, 75)


def ints(valid: list[int]) -> st.SearchStrategy[str]:
    """An id as a form value: a valid one, another object's, or anything."""
    return value(st.sampled_from([str(v) for v in valid]) if valid else NASTY,
                 st.integers(-5, 10**6).map(str), st.integers(2**31 - 2, 2**63 + 2).map(str))


def date_values() -> st.SearchStrategy[str]:
    return value(st.dates().map(lambda d: d.isoformat()), st.sampled_from(["2026-01-15", "2025-12-31"]))


# --- path parameters --------------------------------------------------------------------------

BAD_SEGMENTS = st.one_of(st.sampled_from(["NOPE", "-1", "abc", "1.5", "%00", "\x00", "\u202e", "a b", "Å"]),
                         st.text(min_size=1, max_size=20), HUGE)


def code_param() -> st.SearchStrategy[str]:
    """Mostly the unit the user works in; sometimes the other unit, or no unit at all."""
    return weighted(st.sampled_from(["IFO-FS"] * 6 + ["ifo-fs", "INT"]), BAD_SEGMENTS, 85)


def id_param(valid: list[int], scene: Scene) -> st.SearchStrategy[str]:
    """Mostly an id the form is meant for; sometimes another object's id, a missing one,
    one beyond any integer column, or not a number."""
    other = st.one_of(
        st.sampled_from([str(v) for v in scene.all_ids()]),
        st.integers(0, 10**6).map(str),
        st.integers(2**31 - 2, 10**30).map(str),
        BAD_SEGMENTS,
    )
    return weighted(st.sampled_from([str(v) for v in valid]), other, 80)


# --- the routes -------------------------------------------------------------------------------

Strategies = dict[str, st.SearchStrategy[Any]]


@dataclass
class Route:
    """How to fuzz one form: who posts it, its path parameters and fields."""

    user: str | None  # None: an anonymous visitor
    params: Callable[[Scene], Strategies] = lambda s: {}
    fields: Callable[[Scene], Strategies] = lambda s: {}
    query: Callable[[Scene], Strategies] = lambda s: {}
    upload: bool = False
    #: (table, removed, added) -> (removed, added): what a refusal may change, see the module docstring
    allowed: Callable[[str, list[tuple[Any, ...]], list[tuple[Any, ...]]], tuple[list[Any], list[Any]]] | None = None
    others: tuple[str, ...] = ("handlaggare", "forste.int", "namnd")  # users who should mostly be refused
    #: (app, client, scene, data) -> None: run before the request (an anonymous visitor's first step)
    prepare: Callable[[Flask, FlaskClient, Scene, st.DataObject], Any] | None = None


def _u(s: Scene, *names: str) -> list[int]:
    return [s.users[n] for n in names]


#: audited refusals of a login (the password or the code): security events, kept on purpose
LOGIN_REFUSAL_ACTIONS = ("login.failure", "login.locked", "login.inactive")


def _login_refusal(table: str, removed: list[tuple[Any, ...]], added: list[tuple[Any, ...]]):
    if table == "login_attempts":  # failures per unknown name and per address, counted on purpose
        return [], []
    if table == "users":
        cols = COLUMNS["users"]
        keep = [i for i, c in enumerate(cols) if c not in ("failed_login_count", "locked_until_dt")]
        strip = lambda rows: sorted(tuple(r[i] for i in keep) for r in rows)  # noqa: E731
        if strip(removed) == strip(added):
            return [], []
    if table == "audit_entries" and not removed:
        action = COLUMNS["audit_entries"].index("action")
        return [], [r for r in added if r[action] not in LOGIN_REFUSAL_ACTIONS]
    return removed, added


def _totp_refusal(table: str, removed: list[Any], added: list[Any]):
    if table == "audit_entries" and not removed:
        action = COLUMNS["audit_entries"].index("action")
        return [], [r for r in added if r[action] != "totp.failure"]
    return removed, added


def _password_first(app: Flask, client: FlaskClient, s: Scene, data: st.DataObject) -> None:
    """Mostly: the first step of a two-step login (the code is what is fuzzed); else none."""
    if data.draw(st.integers(0, 3), label="password first?"):
        token = csrf_from(client.get("/logga-in").get_data(as_text=True))
        client.post("/logga-in", data={"username": "tvasteg", "password": PASSWORD, "csrf_token": token})


def totp_now(s: Scene, username: str) -> st.SearchStrategy[str]:
    """The user's current code (computed when drawn)."""
    return st.builds(lambda: pyotp.TOTP(s.totp_secrets[username]).now())


def _stale_preview_removed(table: str, removed: list[Any], added: list[Any]):
    if table == "pending_imports" and not added:
        return [], []
    return removed, added


def _user_fields(s: Scene) -> Strategies:
    return {
        "username": value("ny.person", "forste", "Ny.Person", "a"),
        "full_name": value("Ny Person", "Å"),
        "password": value(PASSWORD, "kort", "ett-annat-bra-losenord"),
        "email": value("ny@example.se", "inte-en-adress", "a@b"),
        "case_system_id": value("ANAN", "NYNY", "x"),
    }


def _unit_fields(s: Scene) -> Strategies:
    num = lambda *v: value(*[str(x) for x in v], st.integers(-3, 1100).map(str))  # noqa: E731
    return {
        "code": value("NY", "IFO-FS", "int", "ny enhet"),
        "name": value("Ny enhet", "Försörjningsstöd IFO"),
        "drawer_role": value(*[r.value for r in Role]),
        "sample_size": num(1, 2, 1000, 1001),
        "genomgang_min": num(0, 2, 52, 53),
        "genomgang_max": num(0, 4, 52, 53),
        "hemmablindhet_protection": value("ja", "nej"),
        "stratify_by_team": value("ja", "nej"),
        "exclude_reviewed_months": num(0, 3, 24, 25),
        "snapshot_max_age_days": num(1, 35, 366, 367),
    }


def _review_fields(s: Scene) -> Strategies:
    out: Strategies = {"action": value("spara", "klarmarkera")}
    for key, answers in s.review_items:
        out[f"svar-{key}"] = value(*answers)
        out[f"kommentar-{key}"] = value("Anteckning.", "")
    return out


def _genomgang_case_fields(s: Scene) -> Strategies:
    out: Strategies = {"result": value("utan_anmarkning", "brist"), "handlaggare": value("ANAN", "BOBO")}
    for key in s.genomgang_areas:
        out[f"brist-{key}"] = value("1")
        out[f"kommentar-{key}"] = value("Saknas.")
    return out


def _feedback_fields(s: Scene) -> Strategies:
    return {"given_on": date_values(), "method": value(*FEEDBACK_METHODS), "note": value("Pratade om det.")}


ROUTES: dict[str, Route] = {
    # core
    "account.login": Route(
        None,
        fields=lambda s: {"username": value(*s.users, "okänd"), "password": value(PASSWORD, "fel"),
                          "next": value("/granskningar", "//evil.example", "https://evil.example/")},
        allowed=_login_refusal),
    "account.login_code": Route(
        None, fields=lambda s: {"totp_code": value(totp_now(s, "tvasteg"), "000000", "123 456", "12345", "abcdef")},
        prepare=_password_first,
        allowed=_login_refusal),
    "account.sso_start": Route(None, fields=lambda s: {"next": value("/granskningar", "//evil.example")}),
    "account.logout": Route("handlaggare"),
    "account.change_password": Route(
        "handlaggare", others=("bo", "tvasteg"),
        fields=lambda s: {"current_password": value(PASSWORD, "fel lösenord"),
                          "new_password": value("ett nytt och långt lösenord", "kort", PASSWORD),
                          "repeat_password": value("ett nytt och långt lösenord", "annat")}),
    "account.totp_begin": Route("handlaggare", others=("tvasteg", "halvvags"), allowed=_totp_refusal),
    "account.totp_confirm": Route(
        "halvvags", fields=lambda s: {"totp_code": value(totp_now(s, "halvvags"), "000000", "12 34 56", "x")},
        others=("tvasteg", "handlaggare"), allowed=_totp_refusal),
    "account.totp_cancel": Route("halvvags", others=("tvasteg", "handlaggare"), allowed=_totp_refusal),
    "account.totp_disable": Route(
        "tvasteg", fields=lambda s: {"totp_code": value(totp_now(s, "tvasteg"), "000000", "12 34 56", "x")},
        others=("halvvags", "handlaggare"), allowed=_totp_refusal),
    "notifications.mark_read": Route(
        "handlaggare", params=lambda s: {"notification_id": id_param(s.notifications["handlaggare"]
                                                                     + s.notifications["sysadmin"], s)},
        fields=lambda s: {"sida": value("1", "2")}),
    "notifications.mark_all_read": Route("handlaggare", fields=lambda s: {"sida": value("1", "2")}),
    # admin
    "admin.user_new": Route("sysadmin", fields=_user_fields),
    "admin.user_update": Route(
        "sysadmin", params=lambda s: {"user_id": id_param(list(s.users.values()), s)},
        fields=lambda s: {k: v for k, v in _user_fields(s).items() if k in ("full_name", "email", "case_system_id")}),
    "admin.user_password": Route(
        "sysadmin", params=lambda s: {"user_id": id_param(_u(s, "forste", "anna", "sysadmin"), s)},
        fields=lambda s: {"password": value(PASSWORD, "kort", "ett-annat-bra-losenord")}),
    "admin.user_unlock": Route("sysadmin", params=lambda s: {"user_id": id_param(list(s.users.values()), s)}),
    "admin.user_deactivate": Route("sysadmin", params=lambda s: {"user_id": id_param(list(s.users.values()), s)}),
    "admin.user_activate": Route("sysadmin", params=lambda s: {"user_id": id_param(list(s.users.values()), s)}),
    "admin.user_sso_link": Route(
        "sysadmin", params=lambda s: {"user_id": id_param(_u(s, "anna", "bo", "forste"), s)},
        fields=lambda s: {"oidc_tid": value("72f988bf-86f1-41af-91ab-2d7cd011db47", "not-a-guid"),
                          "oidc_oid": value("0b1c2d3e-0000-4000-8000-000000000001", st.uuids().map(str))}),
    "admin.user_sso_unlink": Route("sysadmin", params=lambda s: {"user_id": id_param(_u(s, "bo", "anna"), s)}),
    "admin.user_totp_reset": Route(
        "sysadmin", params=lambda s: {"user_id": id_param(_u(s, "tvasteg", "halvvags", "anna"), s)}),
    "admin.user_add_role": Route(
        "sysadmin", params=lambda s: {"user_id": id_param(list(s.users.values()), s)},
        fields=lambda s: {"role": value(*[r.value for r in Role]), "unit": value("IFO-FS", "INT", "", "NOPE")}),
    "admin.user_remove_role": Route(
        "sysadmin", params=lambda s: {"user_id": id_param(list(s.users.values()), s),
                                      "assignment_id": id_param([i for v in s.role_assignments.values() for i in v], s)}),
    "admin.unit_create": Route("sysadmin", fields=_unit_fields),
    "admin.unit_update": Route("sysadmin", params=lambda s: {"code": code_param()},
                               fields=lambda s: {k: v for k, v in _unit_fields(s).items() if k != "code"}),
    "admin.team_create": Route("sysadmin", params=lambda s: {"code": code_param()},
                               fields=lambda s: {"team_name": value("Grupp 3", "Grupp 1")}),
    "admin.team_lead": Route(
        "sysadmin", params=lambda s: {"code": code_param(), "team_id": id_param(s.teams, s)},
        fields=lambda s: {"lead": ints(_u(s, "forste", "forste2", "forste.int", "anna"))}),
    # case lists
    "cases.upload": Route(
        "forste", params=lambda s: {"code": code_param()},
        fields=lambda s: {f"kolumn_{f}": value("Ärendenummer", "Sign") for f in FIELDS}, upload=True),
    "cases.confirm": Route(
        "forste", params=lambda s: {"code": code_param(), "pending_id": value(s.pending_id)},
        allowed=_stale_preview_removed),
    "cases.cancel": Route("forste", params=lambda s: {"code": code_param(), "pending_id": value(s.pending_id)}),
    "cases.save_mapping": Route(
        "sektionschef", params=lambda s: {"code": code_param()},
        fields=lambda s: {f"kolumn_{f}": value("Ärendenummer", "Handläggare", "Sign", "") for f in FIELDS}),
    "cases.create_token": Route("sektionschef", params=lambda s: {"code": code_param()},
                                fields=lambda s: {"label": value("Systemet")}),
    "cases.revoke_token": Route(
        "sektionschef", params=lambda s: {"code": code_param(), "token_id": id_param(s.token_ids, s)}),
    # the draw
    "sampling.draw_now": Route("sektionschef", params=lambda s: {"code": code_param()}),
    "sampling.redraw": Route(
        "sektionschef", params=lambda s: {"code": code_param(), "draw_id": id_param([s.draw_id, s.int_draw_id], s)},
        fields=lambda s: {"reason": value("Ärendelistan saknade en grupp.", "kort")}),
    "sampling.assign": Route(
        "sektionschef",
        params=lambda s: {"code": code_param(), "draw_id": id_param([s.draw_id, s.int_draw_id], s),
                          "case_id": id_param(s.drawn_cases, s)},
        fields=lambda s: {"reviewer": ints(_u(s, "forste", "forste2", "enhetschef", "anna", "forste.int")),
                          "override_reason": value("Ingen annan finns.", "")}),
    # reviews
    "reviews.start": Route("enhetschef", params=lambda s: {"drawn_case_id": id_param(s.drawn_cases, s)},
                           others=("forste", "sektionschef", "handlaggare")),
    "reviews.answer": Route(
        "enhetschef", params=lambda s: {"review_id": id_param([s.draft_review, s.signed_review], s)},
        fields=_review_fields, others=("forste", "sektionschef")),
    "reviews.feedback": Route(
        "enhetschef", params=lambda s: {"review_id": id_param([s.signed_review, s.draft_review], s)},
        fields=_feedback_fields, others=("forste", "sektionschef")),
    "reviews.atgard_create": Route(
        "sektionschef", params=lambda s: {"code": code_param()},
        fields=lambda s: {"brister": st.lists(ints(s.brister), max_size=3),
                          "description": value("Gå igenom rutinen."), "owner": ints(_u(s, "enhetschef", "anna", "namnd")),
                          "due_date": date_values()},
),
    "reviews.atgard_done": Route(
        "enhetschef", params=lambda s: {"code": code_param(), "atgard_id": id_param([s.atgard_open, s.atgard_done], s)},
        fields=lambda s: {"done_note": value("Genomfört på mötet.")}),
    "reviews.atgard_verify": Route(
        "sektionschef", params=lambda s: {"code": code_param(), "atgard_id": id_param([s.atgard_done, s.atgard_open], s)},
        fields=lambda s: {"confirming_review": ints([s.signed_review, s.draft_review]),
                          "verified_note": value("Syns i nästa stickprov.")}),
    # genomgångar
    "genomgang.plan": Route("forste", params=lambda s: {"code": code_param()},
                            fields=lambda s: {"planned_on": date_values()}),
    "genomgang.unplan": Route(
        "forste", params=lambda s: {"code": code_param(),
                                    "genomgang_id": id_param([s.genomgang_planned, s.genomgang_started], s)}),
    "genomgang.start": Route(
        "forste", params=lambda s: {"code": code_param(),
                                    "genomgang_id": id_param([s.genomgang_planned, s.genomgang_started], s)},
        fields=lambda s: {"participants": st.lists(ints(_u(s, "forste", "forste2", "forste.int", "anna")), max_size=4)},
),
    "genomgang.feedback": Route(
        "forste", params=lambda s: {"code": code_param(),
                                    "genomgang_id": id_param([s.genomgang_started] * 3 + [s.genomgang_planned], s)},
        fields=lambda s: {"handlaggare": value("ANAN", "BOBO", "Anna A"), "given_on": date_values(),
                          "note": value("Pratade om det.")}),
    "genomgang.close": Route(
        "forste", params=lambda s: {"code": code_param(),
                                    "genomgang_id": id_param([s.genomgang_started] * 3 + [s.genomgang_planned], s)}),
    "genomgang.record_remaining": Route(
        "forste", params=lambda s: {"code": code_param(),
                                    "genomgang_id": id_param([s.genomgang_started] * 3 + [s.genomgang_planned], s)},
        fields=lambda s: {"handlaggare": value("ANAN", "BOBO", ""), "grupp": value("Grupp 1", "Grupp 2", ""),
                          "antal": value("6", "12", "0", "5")}),
    "genomgang.record": Route(
        "forste", params=lambda s: {"code": code_param(),
                                    "genomgang_id": id_param([s.genomgang_started] * 3 + [s.genomgang_planned], s),
                                    "case_id": id_param(s.snapshot_cases, s)},
        fields=_genomgang_case_fields),
    # the yearly summary
    "reports.sign": Route(
        "sektionschef", params=lambda s: {"code": code_param()},
        fields=lambda s: {"text": value("Kontrollen fungerar. Bristerna i underskrifter följs upp.", "kort")},
        query=lambda s: {"ar": value("2026", "1999", "2101", "")}),
}


# --- plumbing ---------------------------------------------------------------------------------


def draw_body(data: st.DataObject, route: Route, scene: Scene) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for name, strategy in route.fields(scene).items():
        if data.draw(st.integers(0, 9), label=f"has {name}") == 0:
            continue  # a missing field now and then
        body[name] = data.draw(strategy, label=name)
    # an action that asks first acts on the confirmation's answer: mostly given, sometimes not or garbled
    body[CONFIRMED_FIELD] = data.draw(value("ja", "ja", "ja", "nej"), label=CONFIRMED_FIELD)
    extra = data.draw(st.dictionaries(st.text(min_size=1, max_size=12), NASTY, max_size=2), label="extra fields")
    for k, v in extra.items():
        body.setdefault(k, v)
    return body


# --- the tests --------------------------------------------------------------------------------


def test_every_form_is_fuzzed(app: Flask) -> None:
    posts = {r.endpoint for r in app.url_map.iter_rules()
             if "POST" in (r.methods or ()) and not r.rule.startswith("/api/")}
    assert posts - set(ROUTES) == set(), "POST routes without an entry in ROUTES (add one)"
    assert set(ROUTES) - posts == set(), "entries in ROUTES for routes that no longer exist"


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, phases=PHASES,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
def test_form_never_fails_and_refusals_change_nothing(app: Flask, client: FlaskClient, scene: Scene, endpoint: str,
                                                      data: st.DataObject) -> None:
    route = ROUTES[endpoint]
    rule = post_rule(app, endpoint)
    username = route.user
    if username is not None and data.draw(st.integers(0, 7), label="someone else?") == 0:
        username = data.draw(st.sampled_from(route.others), label="user")
    if username is None:
        client = app.test_client()  # a fresh anonymous visitor every time
        if route.prepare is not None:
            route.prepare(app, client, scene, data)
        row = session_row(app, client)
        token = row.csrf_token if row is not None else csrf_from(client.get("/logga-in").get_data(as_text=True))
    else:
        token = login_as(app, client, username, scene)

    params = {name: data.draw(s, label=name) for name, s in route.params(scene).items()}
    path = build_path(rule, params)
    query = {name: data.draw(s, label=name) for name, s in route.query(scene).items()}
    body = draw_body(data, route, scene)
    csrf = data.draw(st.sampled_from(["ok"] * 18 + ["missing", "wrong"]), label="csrf")
    if csrf == "ok":
        body["csrf_token"] = token
    elif csrf == "wrong":
        body["csrf_token"] = data.draw(NASTY, label="csrf value")
    kwargs: dict[str, Any] = {"data": body, "query_string": query}
    if route.upload:
        payload = data.draw(st.one_of(st.binary(max_size=300), st.sampled_from([case_list(3), b"", b"\x00" * 10])),
                            label="file")
        filename = data.draw(value("lista.csv", "lista.xlsx", "../../x.csv", ""), label="filename")
        if data.draw(st.booleans(), label="send file"):
            body["fil"] = (io.BytesIO(payload), filename)
        kwargs["content_type"] = "multipart/form-data"

    clear_flashes(app)
    before = table_rows(app)
    response = client.post(path, **kwargs)
    html = response.get_data(as_text=True)
    assert response.status_code < 500, f"{response.status_code} from POST {path}"
    assert "Traceback" not in html
    refused = is_refusal(app, response.status_code, html)
    event(f"{response.status_code} {'refused' if refused else 'done'}")
    if refused:
        changes = diff(before, table_rows(app), route.allowed)
        assert not changes, f"refused ({response.status_code}) POST {path} changed the database: {changes}"


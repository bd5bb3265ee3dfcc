"""The reviewer is led: the checklist says how far they have come, per area with a link to it;
"Mina granskningar" and the top menu say by when each review must be klarmarkerad (from
REVIEW_LATE_AFTER_MONTHS) and the menu item goes when nothing is left; a refused submit puts
the focus on the message."""

from __future__ import annotations

import re

from tests.support.draws import PERIOD
from tests.support.reviews import full_form, open_review, template
from tests.support.web import login, post_form


def _nav(html: str) -> str:
    match = re.search(r'<nav class="main-nav".*?</nav>', html, re.S)
    assert match
    return match.group(0)


def test_progress_per_area_and_jump_links(app, client, db, drawn, checklists):
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    t = template(checklists)
    items = [item for _, item in t.items()]
    login(client, "enhetschef")
    html = client.get(f"/granskningar/{review_id}").get_data(as_text=True)
    assert f"0 av {len(items)} frågor besvarade." in html
    for area in t.areas:
        assert f'<a href="#omrade-{area.key}">{area.title}</a>' in html
        assert f'id="omrade-{area.key}"' in html

    first_area = t.areas[0]
    form = {k: v for k, v in full_form(checklists).items()
            if any(k.endswith(item.key) for item in first_area.items)}
    assert post_form(client, f"/granskningar/{review_id}", {**form, "action": "spara"}).status_code == 302
    html = client.get(f"/granskningar/{review_id}").get_data(as_text=True)
    n = len(first_area.items)
    assert f"{n} av {len(items)} frågor besvarade." in html
    assert re.search(rf'#omrade-{first_area.key}">[^<]+</a> <span class="tag tag-ok">{n} av {n}</span>', html)


def test_due_dates_on_my_reviews_and_in_the_top_menu(app, client, db, drawn, checklists):
    app.config["REVIEW_LATE_AFTER_MONTHS"] = 2
    due = "2027-02-28"  # drawn in 2026-12: the end of the month two months on
    assert PERIOD == "2026-12"
    login(client, "enhetschef")
    start = client.get("/").get_data(as_text=True)
    assert "Mina granskningar" in _nav(start) and f"2 · senast {due}" in _nav(start)
    mine = client.get("/granskningar").get_data(as_text=True)
    assert "Klarmarkeras senast" in mine and len(re.findall(rf"<td>{due}</td>", mine)) == 2

    for drawn_case_id in drawn["cases"]:
        review_id = open_review(app, "enhetschef", drawn_case_id, checklists)
        response = post_form(client, f"/granskningar/{review_id}", {**full_form(checklists), "action": "klarmarkera"})
        assert response.status_code == 302
    assert "Mina granskningar" not in _nav(client.get("/").get_data(as_text=True))
    # someone who reviews nothing never sees it
    other = app.test_client()
    login(other, "handlaggare")
    assert "Mina granskningar" not in _nav(other.get("/").get_data(as_text=True))


def test_a_refused_submit_puts_the_focus_on_the_message(app, client, db, drawn, checklists):
    review_id = open_review(app, "enhetschef", drawn["cases"][0], checklists)
    login(client, "enhetschef")
    response = post_form(client, f"/granskningar/{review_id}", {"action": "klarmarkera"}, confirmed=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'<div class="message message-error" role="alert" id="felmeddelande" tabindex="-1" autofocus>', html)
    assert "Det här händer om du fortsätter" not in html

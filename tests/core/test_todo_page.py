"""The start page lists at most five to-dos of one kind in one unit (the most urgent) and sums up
the rest in one line that leads to the unit: a sektionschef with hundreds of overdue åtgärder
gets a readable page, and nothing disappears uncounted."""

from __future__ import annotations

import datetime as dt

from kontroll.core.todos import Todo, for_the_page


def _todo(kind: str, unit: str, n: int) -> Todo:
    return Todo(kind=kind, key=f"{kind}:{unit}:{n}", title=f"{kind} {unit} {n}", link=f"/x/{n}", unit_code=unit,
                due=dt.date(2026, 1, 1) + dt.timedelta(days=n))


def test_five_of_a_kind_per_unit_then_one_line_for_the_rest(app):
    todos = [_todo("atgard_late", "U1", n) for n in range(8)] + [_todo("atgard_late", "U2", n) for n in range(2)] \
        + [_todo("brist", "U1", 0)]
    with app.app_context():
        shown = for_the_page(todos)
    titles = [t.title for t in shown]
    assert titles[:5] == [f"atgard_late U1 {n}" for n in range(5)]
    assert titles[5] == "… och 3 till av samma slag i U1"
    assert shown[5].link == "/enheter/U1"
    assert titles[6:] == ["atgard_late U2 0", "atgard_late U2 1", "brist U1 0"]
    assert for_the_page(todos[8:]) == todos[8:], "nothing to sum up: the list as it was"


"""Swedish as kontroll writes it: numbers, percentages, counted nouns and lists.

The one place for these rules, used by the pages (as Jinja filters), the reports, the jobs and
the messages alike:

- :func:`number`: ``1 234``, ``12 345`` and ``1 234,5`` (a no-break space between thousands
  from four digits up, as tables need, and a decimal comma);
- :func:`percent`: ``12,5 %`` (one decimal, a no-break space before ``%``; "–" for none);
- :func:`count`: ``1 genomgång`` / ``3 genomgångar``;
- :func:`join`: ``a, b och c``.

Written by hand rather than with Babel: four short rules, pinned by tests, are cheaper than a
locale database of tens of megabytes. Month names are with the periods
(:mod:`kontroll.core.periods`).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

NBSP = "\u00a0"


def number(value: int | float | Decimal | None, decimals: int | None = None, *, trim: bool = False) -> str:
    """An integer with grouped thousands, or a decimal with a comma (one decimal unless said);
    with ``trim``, trailing zeros of the decimals go (``97,5``, ``95``)."""
    if value is None:
        return ""
    if isinstance(value, int) and decimals is None:
        return f"{value:,}".replace(",", NBSP)
    text = f"{value:,.{1 if decimals is None else decimals}f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(",", NBSP).replace(".", ",")


def percent(rate: float | None, decimals: int = 1) -> str:
    """A share (0–1) as a Swedish percentage, e.g. ``12,5 %``; "–" when there is none."""
    if rate is None:
        return "–"
    return f"{number(rate * 100, decimals)}{NBSP}%"


def count(n: int, one: str, many: str) -> str:
    """``n`` with the noun in the right number: ``count(1, "ärende", "ärenden")``."""
    return f"{number(n)} {one if n == 1 else many}"


def join(items: Iterable[str], last: str = "och") -> str:
    """``a, b och c`` (``last`` may be "eller")."""
    parts = [p for p in items if p]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {last} " + parts[-1]

"""The one personnummer detector (docs/architecture.md, invariant 8).

Every import and every free-text field asks :func:`contains_personnummer` before anything is
stored. It finds a Swedish personnummer or samordningsnummer in any spelling, also inside a
longer value:

1. The text is Unicode-normalised (NFKC), format characters (category Cf: zero-width space,
   soft hyphen, BOM, direction marks…) are dropped, every decimal digit of any script becomes
   its ASCII digit, and every dash, minus sign, space (of any width) and ``_ . / +`` counts as
   a separator.
2. A *chain* is a run of digit groups joined by separators; any other character (a letter, a
   comma, a colon) ends it. Candidates are read from chains only, so ``EB-8501011236``,
   ``PN8501011236`` and ``8501011236X`` are found as readily as ``850101-1236``.
3. A candidate is a date part (``YYMMDD`` or ``YYYYMMDD``, day + 60 for a samordningsnummer,
   a real date) followed by four digits:

   * written **with a separator before the last four digits** (``850101-1236``,
     ``85 01 01–1236``, ``1985-01-01/1236``) it is refused whatever the check digit: a
     mistyped personnummer still identifies a person;
   * written **without** one (``8501011236``, ``198501011236``, glued to letters or to a
     digit at one end) it is refused when its Luhn check digit is valid.

   One exception keeps dates in running text usable: ``YYYY-MM-DD - YYYY-MM-DD`` (a date
   range) is two dates, not a date and four digits.

The spellings the tests generate are listed here too (:data:`SPELLINGS`), beside the rules
they exercise, so that a new spelling is added in one place.

Pure Python: no Flask, no database. Callers never echo the value they refused.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable

__all__ = [
    "contains_personnummer",
    "luhn_valid",
    "luhn_digit",
    "real_date",
    "SPELLINGS",
    "spell",
]

# --- normalisation ----------------------------------------------------------------------------

#: ASCII separators; non-ASCII ones are decided by Unicode category (Pd, Zs, Zl, Zp) or listed
_ASCII_SEPARATORS = " \t\n\r\v\f-_./+"
_EXTRA_SEPARATORS = frozenset("\u2212\u2012\u2013\u2014\u2015\u2043\ufe58\ufe63\uff0d\u00a0\u2044\u2215\uff0f")
_SEPARATOR_CATEGORIES = frozenset({"Pd", "Zs", "Zl", "Zp"})
_ASCII_TO_DASH = str.maketrans({c: "-" for c in _ASCII_SEPARATORS})


def _normalise(text: str) -> str:
    """Digits as ASCII digits, every separator as ``-``, format characters gone; other
    characters are kept (they end a chain)."""
    if text.isascii():
        return text.translate(_ASCII_TO_DASH)
    text = unicodedata.normalize("NFKC", text)
    out = []
    append = out.append
    for ch in text:
        if ch.isascii():
            append("-" if ch in _ASCII_SEPARATORS else ch)
            continue
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        if category == "Nd":
            append(str(unicodedata.digit(ch)))
        elif category in _SEPARATOR_CATEGORIES or ch in _EXTRA_SEPARATORS or ch.isspace():
            append("-")
        else:
            append("x")
    return "".join(out)


# Every candidate needs ten digits in a row, or digits, a separator and a group of exactly
# four digits at the end, or a six-digit group, a separator and at least four digits. Values
# without any of these (almost every case reference, date and amount) are rejected by this
# one C-level search.
_PREFILTER = re.compile(r"[0-9]{10}|[0-9]-+[0-9]{4}(?![0-9])|[0-9]{6}-+[0-9]{4}")
_CHAIN = re.compile(r"[0-9]+(?:-+[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")


# --- the number itself ------------------------------------------------------------------------

_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def luhn_digit(nine: str) -> int:
    """The check digit for the nine digits ``YYMMDDNNN`` (weights 2, 1, 2, …)."""
    total = 0
    for i, ch in enumerate(nine):
        d = (ord(ch) - 48) * (2 - i % 2)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10


def luhn_valid(ten: str) -> bool:
    return luhn_digit(ten[:9]) == ord(ten[9]) - 48


def real_date(date_part: str) -> bool:
    """``YYMMDD`` or ``YYYYMMDD`` is a date that exists (day + 60: a samordningsnummer).
    Six digits: any century, so 29 February always counts. Eight: century 18, 19 or 20."""
    if len(date_part) == 8:
        century = int(date_part[:2])
        if century not in (18, 19, 20):
            return False
        year, month, day = int(date_part[:4]), int(date_part[4:6]), int(date_part[6:8])
        if day > 60:
            day -= 60
        try:
            dt.date(year, month, day)
        except ValueError:
            return False
        return True
    if len(date_part) != 6:
        return False
    month, day = int(date_part[2:4]), int(date_part[4:6])
    if day > 60:
        day -= 60
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month]


def _with_check(date_part: str, tail: str) -> bool:
    """A real date and a valid check digit (computed over the ten-digit form)."""
    return real_date(date_part) and luhn_valid(date_part[-6:] + tail)


def _glued(group: str) -> bool:
    """A group of ten or more digits: a personnummer without separator, at either end."""
    n = len(group)
    windows = {group[:10], group[-10:]}
    if n >= 12:
        windows |= {group[:12], group[-12:]}
    for w in windows:
        if _with_check(w[:-4], w[-4:]):
            return True
    return False


def _chain_has_personnummer(groups: list[str]) -> bool:
    count = len(groups)
    for i, group in enumerate(groups):
        if len(group) >= 10 and _glued(group):
            return True
        if i == 0:
            continue
        # ``group`` as the last four digits, after a separator
        if len(group) >= 4:
            tail, exact = group[:4], len(group) == 4
            # the date part: whole groups just before, together six or eight digits
            digits = 0
            for j in range(i - 1, -1, -1):
                digits += len(groups[j])
                if digits > 8:
                    break
                if digits not in (6, 8):
                    continue
                date_part = "".join(groups[j:i])
                if j < i - 1 and exact and i + 2 < count and len(groups[i + 1]) == 2 and len(groups[i + 2]) == 2:
                    continue  # YYYY-MM-DD - YYYY-MM-DD: a date range, not a number
                if exact and real_date(date_part):
                    return True  # separator before the last four: the check digit does not matter
                if _with_check(date_part, tail):
                    return True
            # glued digits before the date part: ``9850101-1236``
            before = groups[i - 1]
            if len(before) > 8 or len(before) == 7:
                for size in (6, 8):
                    if len(before) > size and _with_check(before[-size:], tail):
                        return True
    return False


def contains_personnummer(text: str | None) -> bool:
    """True when ``text`` holds a personnummer or samordningsnummer in any spelling."""
    if not text or len(text) < 10 and text.isascii():
        return False
    normal = _normalise(text)
    if not _PREFILTER.search(normal):
        return False
    for chain in _CHAIN.findall(normal):
        if len(chain) >= 10 and _chain_has_personnummer(_GROUP.findall(chain)):
            return True
    return False


# --- the spellings the tests generate ------------------------------------------------------------
#
# Each takes the twelve digits ``YYYYMMDDNNNC`` of a personnummer and writes it one way.
# The property tests (tests/privacy/) draw a number and a spelling and check that the
# detector, the import, the API and every free-text form refuse it. A spelling marked
# ``needs_check_digit`` is only refused when the check digit is valid (no separator before the
# last four digits); the others are refused with any check digit.


def _ten(d: str) -> str:
    return d[2:]


Spelling = tuple[str, Callable[[str], str], bool]

SPELLINGS: tuple[Spelling, ...] = (
    ("bindestreck", lambda d: f"{_ten(d)[:6]}-{d[8:]}", False),
    ("plus (100 år)", lambda d: f"{_ten(d)[:6]}+{d[8:]}", False),
    ("tolv siffror med bindestreck", lambda d: f"{d[:8]}-{d[8:]}", False),
    ("tio siffror i följd", lambda d: _ten(d), True),
    ("tolv siffror i följd", lambda d: d, True),
    ("tankstreck (en dash)", lambda d: f"{_ten(d)[:6]}\u2013{d[8:]}", False),
    ("långt tankstreck (em dash)", lambda d: f"{_ten(d)[:6]}\u2014{d[8:]}", False),
    ("minustecken U+2212", lambda d: f"{_ten(d)[:6]}\u2212{d[8:]}", False),
    ("hårt mellanslag", lambda d: f"{_ten(d)[:6]}\u00a0{d[8:]}", False),
    ("smalt hårt mellanslag", lambda d: f"{_ten(d)[:6]}\u202f{d[8:]}", False),
    ("mellanslag", lambda d: f"{_ten(d)[:6]} {d[8:]}", False),
    ("mellanslag runt bindestreck", lambda d: f"{_ten(d)[:6]} - {d[8:]}", False),
    ("understreck", lambda d: f"{_ten(d)[:6]}_{d[8:]}", False),
    ("punkt", lambda d: f"{_ten(d)[:6]}.{d[8:]}", False),
    ("snedstreck", lambda d: f"{_ten(d)[:6]}/{d[8:]}", False),
    ("grupperat datum", lambda d: f"{d[2:4]} {d[4:6]} {d[6:8]}-{d[8:]}", False),
    ("ISO-datum och nummer", lambda d: f"{d[:4]}-{d[4:6]}-{d[6:8]}-{d[8:]}", False),
    ("nollbredd mellanslag inuti", lambda d: f"{_ten(d)[:3]}\u200b{_ten(d)[3:6]}-{d[8:]}", False),
    ("mjukt bindestreck inuti", lambda d: f"{_ten(d)[:6]}\u00ad{d[8:]}", True),
    ("nollbredd mellanslag i följd", lambda d: f"{_ten(d)[:5]}\u200b{_ten(d)[5:]}", True),
    ("helbreddssiffror", lambda d: "".join(chr(0xFF10 + int(c)) for c in f"{_ten(d)[:6]}") + "-"
     + "".join(chr(0xFF10 + int(c)) for c in d[8:]), False),
    ("arabisk-indiska siffror", lambda d: "".join(chr(0x0660 + int(c)) for c in _ten(d)), True),
    ("fast vid prefix EB-", lambda d: f"EB-{_ten(d)}", True),
    ("fast vid bokstäver", lambda d: f"PN{_ten(d)}", True),
    ("fast vid bokstav efter", lambda d: f"{_ten(d)}X", True),
    ("extra siffra efter bindestreck", lambda d: f"{_ten(d)[:6]}-{d[8:]}-1", False),
    ("i löptext", lambda d: f"Klienten ({_ten(d)[:6]}-{d[8:]}) ringde.", False),
    ("i löptext utan mellanrum", lambda d: f"Ärende{d[:8]}{d[8:]}kontrollerat", True),
)


def spell(name: str, twelve: str) -> str:
    """The named spelling of a twelve-digit number (for tests and documentation)."""
    for label, make, _needs in SPELLINGS:
        if label == name:
            return make(twelve)
    raise KeyError(name)

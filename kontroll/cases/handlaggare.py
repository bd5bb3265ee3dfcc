"""Who a case's handläggare is: the one place that keys, labels and matches them.

A case list names its handläggare by name, by signature (the case system's user id) or both.
kontroll links a row to a user when it can (:class:`~kontroll.cases.services.Linker`), but
every rule about *who* that is goes through here:

- :func:`identity` — the key that says two rows name the same person: the linked user, else
  the signature, else the name, each compared without regard to case, extra spaces or Unicode
  composition (so ``"Åsa  Öberg"`` and ``"åsa öberg"`` are one person);
- :func:`label` — how a person is shown: ``"Åsa Öberg (ASOB)"``;
- :func:`is_handlaggare` — whether a user is a case's handläggare (the separation rule: never
  the reviewer), by the link, else by signature or name;
- :func:`key_expr` — the same grouping in SQL, for the genomgång's work list;
- :func:`team_label` — a case's team, or ``(ingen grupp)``.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import func

#: the label of a row without any handläggare, and of a case without a team
NO_HANDLAGGARE = "(ingen handläggare)"
NO_TEAM = "(ingen grupp)"


def name_key(name: str | None) -> str:
    """A name compared as people read it: NFC, single spaces, case-folded."""
    return " ".join(unicodedata.normalize("NFC", name or "").split()).casefold()


def signature_key(signature: str | None) -> str:
    """A signature compared as the case system means it: trimmed, NFC, case-folded."""
    return unicodedata.normalize("NFC", (signature or "").strip()).casefold()


def identity(namn: str | None, signatur: str | None, user_id: int | None = None) -> str:
    """The key that says two rows name the same person ("" when a row names nobody)."""
    if user_id is not None:
        return f"u:{user_id}"
    if signatur and signatur.strip():
        return "s:" + signature_key(signatur)
    if namn and namn.strip():
        return "n:" + name_key(namn)
    return ""


def label(namn: str | None, signatur: str | None, none: str = NO_HANDLAGGARE) -> str:
    """``"Namn (SIGN)"``, the one of them there is, or ``none``."""
    if namn and signatur:
        return f"{namn} ({signatur})"
    return namn or signatur or none


def is_handlaggare(user: Any, *, user_id: int | None, namn: str | None, signatur: str | None) -> bool:
    """Whether ``user`` handles the case: by the row's link to a user when there is one, else
    by the user's signature or exact name (so that an unlinked row still refuses them)."""
    if user_id is not None:
        return user_id == user.id
    if signatur and user.case_system_id and signature_key(signatur) == signature_key(user.case_system_id):
        return True
    return bool(namn) and name_key(namn) == name_key(user.full_name)


def key_expr(snapshot_case: Any) -> Any:
    """The grouping key of :func:`label`'s person in SQL: the signature, else the name (as
    written: the work list filters on what it shows)."""
    return func.coalesce(snapshot_case.handlaggare_signatur, snapshot_case.handlaggare_namn, "")


def team_label(team: str | None) -> str:
    return team or NO_TEAM

"""Nothing identifying in text the nämnd reads (docs/architecture.md, invariant 9).

Text that reaches the committee's summary, its PDF or its CSV (the sektionschef's bedömning,
the written justification of a separation-rule override, åtgärd descriptions) is checked
against the database when it is written, and again when the summary is made (for rows
written before the check existed, or before a name appeared in a case list):

* a personnummer in any spelling (:mod:`kontroll.privacy.personnummer`);
* a case reference from the unit's case lists;
* a handläggare's name or signature from the unit's case lists;
* the name or case-system signature of any user of kontroll.

Names are matched as whole words, ignoring case, Unicode composition, punctuation and extra
spaces, in the order written and (for two-word names) reversed ("Fröberg, Anna"); a one-word
"name" is not matched (it would flag ordinary words such as "Ek" or "Berg"). Signatures are matched as whole tokens, exactly as written in the list.
A case reference is matched as a token with at least one digit, as written or in capitals.

The refusal names what kind of identifier was found, never the identifier itself.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.core.errors import ValidationError
from kontroll.privacy.personnummer import contains_personnummer

KIND_TEXTS = {
    "personnummer": "ett personnummer eller samordningsnummer",
    "case_ref": "ett ärendenummer ur enhetens ärendelistor",
    "handlaggare": "en handläggares namn eller signatur ur enhetens ärendelistor",
    "user": "namnet eller signaturen på en användare i kontroll",
}

#: ends a token (a case reference never holds these)
_TOKEN_SPLIT = re.compile(r"[\s,;:()\[\]{}\"'”“«»!?<>|]+")
_WORD = re.compile(r"\w+")
MIN_SIGNATURE = 2


class IdentifyingText(ValidationError):
    """Committee-bound text that names a case, a handläggare or a user."""

    def __init__(self, message: str, field: str | None, kinds: list[str]) -> None:
        super().__init__(message, field)
        self.kinds = kinds


def _words(text: str) -> str:
    """`` word word `` : NFKC, case-folded, every run of non-word characters one space."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " " + " ".join(_WORD.findall(text)) + " "


def _name_keys(name: str) -> list[str]:
    words = _words(name).split()
    if len(words) < 2:
        return []
    keys = [" " + " ".join(words) + " "]
    if len(words) == 2:
        keys.append(f" {words[1]} {words[0]} ")
    return keys


def case_ref_tokens(text: str) -> set[str]:
    """Tokens of ``text`` that could be case references: a digit in them, at least three
    characters, sentence punctuation at the ends taken off; each also in capitals."""
    out: set[str] = set()
    for raw in _TOKEN_SPLIT.split(unicodedata.normalize("NFKC", text)):
        token = raw.strip(".-–")
        if len(token) >= 3 and any(ch.isdigit() for ch in token) and len(token) <= 200:
            out.add(token)
            out.add(token.upper())
    return out


def _tokens(text: str) -> set[str]:
    return {t.strip(".-–") for t in _TOKEN_SPLIT.split(unicodedata.normalize("NFKC", text)) if t}


class _HandlaggareCache:
    """Names and signatures in a unit's case lists. Imported lists never change, so the set
    is kept per unit and the exact set of its lists (ids and SHA-256s, read cheaply from the
    small snapshot table) in the database at hand, and read again only when a list is added."""

    def __init__(self, size: int = 64) -> None:
        self._data: OrderedDict[tuple[str, int, str], tuple[frozenset[str], frozenset[str]]] = OrderedDict()
        self._size = size

    def get(self, session: Session, unit_id: int) -> tuple[frozenset[str], frozenset[str]]:
        from kontroll.cases.models import CaseListSnapshot, SnapshotCase

        lists = session.execute(select(CaseListSnapshot.id, CaseListSnapshot.sha256)
                                .where(CaseListSnapshot.unit_id == unit_id).order_by(CaseListSnapshot.id)).all()
        newest = lists[-1][0] if lists else 0
        fingerprint = hashlib.sha256(repr(lists).encode()).hexdigest()
        key = (str(session.get_bind().url), unit_id, fingerprint)
        hit = self._data.get(key)
        if hit is not None:
            self._data.move_to_end(key)
            return hit
        names: set[str] = set()
        signatures: set[str] = set()
        if newest:
            rows = session.execute(
                select(SnapshotCase.handlaggare_namn, SnapshotCase.handlaggare_signatur).distinct()
                .join(CaseListSnapshot, CaseListSnapshot.id == SnapshotCase.snapshot_id)
                .where(CaseListSnapshot.unit_id == unit_id)
            )
            for namn, sig in rows:
                if namn:
                    names.update(_name_keys(namn))
                if sig and len(sig.strip()) >= MIN_SIGNATURE:
                    signatures.add(sig.strip())
        value = (frozenset(names), frozenset(signatures))
        self._data[key] = value
        while len(self._data) > self._size:
            self._data.popitem(last=False)
        return value


_handlaggare_cache = _HandlaggareCache()


class CommitteeTextCheck:
    """Checks committee-bound texts of some units against the database. Build one per
    request or report and ask :meth:`kinds` for each text."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._users: tuple[frozenset[str], frozenset[str]] | None = None

    def _user_identifiers(self) -> tuple[frozenset[str], frozenset[str]]:
        if self._users is None:
            from kontroll.core.models import User

            names: set[str] = set()
            signatures: set[str] = set()
            for full_name, sig in self.session.execute(select(User.full_name, User.case_system_id)):
                if full_name:
                    names.update(_name_keys(full_name))
                if sig and len(sig.strip()) >= MIN_SIGNATURE:
                    signatures.add(sig.strip())
            self._users = (frozenset(names), frozenset(signatures))
        return self._users

    def _has_case_ref(self, unit_ids: Iterable[int], text: str) -> bool:
        from kontroll.cases.models import CaseListSnapshot, SnapshotCase

        tokens = sorted(case_ref_tokens(text))
        ids = list(unit_ids)
        if not tokens or not ids:
            return False
        for start in range(0, len(tokens), 500):
            hit = self.session.scalar(
                select(SnapshotCase.id).join(CaseListSnapshot, CaseListSnapshot.id == SnapshotCase.snapshot_id)
                .where(SnapshotCase.case_ref.in_(tokens[start:start + 500]), CaseListSnapshot.unit_id.in_(ids))
                .limit(1)
            )
            if hit is not None:
                return True
        return False

    def kinds(self, text: str | None, unit_ids: Iterable[int]) -> list[str]:
        """What identifies someone in ``text`` (keys of :data:`KIND_TEXTS`), in that order."""
        if not text or not text.strip():
            return []
        ids = list(unit_ids)
        found: list[str] = []
        if contains_personnummer(text):
            found.append("personnummer")
        if self._has_case_ref(ids, text):
            found.append("case_ref")
        words = _words(text)
        tokens = _tokens(text)
        for unit_id in ids:
            names, signatures = _handlaggare_cache.get(self.session, unit_id)
            if any(n in words for n in names) or signatures & tokens:
                found.append("handlaggare")
                break
        names, signatures = self._user_identifiers()
        if any(n in words for n in names) or signatures & tokens:
            found.append("user")
        return found

    def check(self, text: str | None, unit_ids: Iterable[int], label: str, field: str | None = None) -> None:
        """Refuse ``text`` (:class:`IdentifyingText`, HTTP 422) when it identifies someone."""
        kinds = self.kinds(text, unit_ids)
        if kinds:
            raise IdentifyingText(refusal_message(label, kinds), field, kinds)


def describe(kinds: list[str]) -> str:
    parts = [KIND_TEXTS[k] for k in kinds]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " och " + parts[-1]


def refusal_message(label: str, kinds: list[str]) -> str:
    return (f"{label} läses av nämnden och får inte peka ut någon, men innehåller {describe(kinds)}. "
            "Skriv om texten utan ärendenummer, namn och signaturer. Ingenting har sparats.")


def check_committee_text(session: Session, text: str | None, unit_ids: Iterable[int], label: str,
                         field: str | None = None) -> None:
    CommitteeTextCheck(session).check(text, unit_ids, label, field)

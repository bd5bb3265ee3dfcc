"""Checklist templates (mallar): what a template is, and its canonical form.

A template is a TOML file in ``checklists/``, read and validated by
:mod:`kontroll.checklists.validation` into the dataclasses here. Used versions are frozen in
the database (:mod:`kontroll.checklists.models`, :mod:`kontroll.checklists.services`). Nothing
here imports Flask or the database.

File format (keys with Swedish letters must be quoted in TOML)::

    id = "stickprov-forsorjningsstod"        # must equal the file stem
    title = "..."
    version = 1                               # positive integer
    "fastställd" = 2026-01-15                 # TOML date
    "fastställd_av" = "..."
    ansvarig_funktion = "Sektionschef försörjningsstöd"
    revideras_senast = 2027-01-15             # TOML date, not before fastställd
    kind = "stickprov"                        # or "genomgång"
    description = "..."

    [[areas]]
    key = "beslut"
    title = "Beslut"

    [[areas.items]]
    key = "beslut-delegat"                    # a-z, 0-9 and "-", unique in the template
    question = "..."
    help = "..."
    references = ["..."]                      # at least one
    answers = ["ja", "nej", "ej_aktuellt"]    # optional, default all three
    deviation = "nej"                         # required, one of answers
    comment_required_on = ["nej"]             # optional, default [deviation]

Canonical form: the validated content as JSON with sorted keys, ``ensure_ascii=False``,
separators ``(",", ":")`` and ISO dates; defaults are written out. ``content_hash`` is the
SHA-256 of its UTF-8 bytes. All text (keys and values) is normalised to Unicode NFC and
stripped of surrounding whitespace first, so the hash does not depend on the editor.
A stored canonical JSON is turned back into the same ``Template`` by
``template_from_canonical_json``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = ["ANSWERS", "ANSWER_LABELS", "KINDS", "Area", "Item", "Template", "TemplateError"]

ANSWERS = ("ja", "nej", "ej_aktuellt")
ANSWER_LABELS = {"ja": "Ja", "nej": "Nej", "ej_aktuellt": "Ej aktuellt"}
KINDS = ("stickprov", "genomgång")


class TemplateError(ValueError):
    """A template that cannot be used.

    ``message`` is Swedish and names the area/item where relevant; ``path`` is the file
    (or directory, or ``<text>`` / ``<lagrad mallversion>``). ``errors`` holds every
    problem found, each as a message relative to ``path``; ``message`` is the first one
    or, when there are several, all of them.
    """

    def __init__(self, message: str, path: str = "<text>", errors: tuple[str, ...] | None = None):
        self.path = path
        self.errors: tuple[str, ...] = tuple(errors) if errors else (message,)
        self.message = message
        super().__init__(f"{path}: {message}")

    @classmethod
    def from_errors(cls, errors: list[str], path: str) -> TemplateError:
        if len(errors) == 1:
            return cls(errors[0], path, tuple(errors))
        message = f"{len(errors)} fel: " + "; ".join(errors)
        return cls(message, path, tuple(errors))


@dataclass(frozen=True)
class Item:
    key: str
    question: str
    help: str
    references: tuple[str, ...]
    answers: tuple[str, ...]
    # Always set by the validator; ``None`` is kept in the type for callers that build
    # items by hand (an item where no answer is a deviation).
    deviation: str | None
    comment_required_on: tuple[str, ...]

    def is_deviation(self, answer: str) -> bool:
        return self.deviation is not None and answer == self.deviation

    def requires_comment(self, answer: str) -> bool:
        return answer in self.comment_required_on


@dataclass(frozen=True)
class Area:
    key: str
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Template:
    id: str
    title: str
    version: int
    faststalld: date
    faststalld_av: str
    ansvarig_funktion: str
    revideras_senast: date
    kind: str
    description: str
    areas: tuple[Area, ...]
    # Derived from the fields above in __post_init__.
    content_hash: str = field(init=False, compare=False)
    canonical_json: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        text = dump_canonical(template_to_dict(self))
        object.__setattr__(self, "canonical_json", text)
        object.__setattr__(self, "content_hash", hashlib.sha256(text.encode("utf-8")).hexdigest())

    def items(self) -> Iterator[tuple[Area, Item]]:
        """Every (area, item) in template order."""
        for area in self.areas:
            for item in area.items:
                yield area, item

    def find_item(self, key: str) -> tuple[Area, Item]:
        """The (area, item) with this item key; KeyError if there is none."""
        for area, item in self.items():
            if item.key == key:
                return area, item
        raise KeyError(key)

    def is_overdue(self, today: date) -> bool:
        """True when ``today`` is after ``revideras_senast`` (the date itself is not overdue)."""
        if isinstance(today, datetime):
            today = today.date()
        return today > self.revideras_senast


# --------------------------------------------------------------------------- canonical form


def template_to_dict(t: Template) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "version": t.version,
        "fastställd": t.faststalld.isoformat(),
        "fastställd_av": t.faststalld_av,
        "ansvarig_funktion": t.ansvarig_funktion,
        "revideras_senast": t.revideras_senast.isoformat(),
        "kind": t.kind,
        "description": t.description,
        "areas": [
            {
                "key": a.key,
                "title": a.title,
                "items": [
                    {
                        "key": i.key,
                        "question": i.question,
                        "help": i.help,
                        "references": list(i.references),
                        "answers": list(i.answers),
                        "deviation": i.deviation,
                        "comment_required_on": list(i.comment_required_on),
                    }
                    for i in a.items
                ],
            }
            for a in t.areas
        ],
    }


def dump_canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

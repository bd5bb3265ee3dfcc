"""Checklist templates in use: where they are, which one a stickprov or genomgång uses, and the
versions frozen on first use (a file changed without a version bump is refused everywhere).

Services take explicit arguments and flush; views, the CLI and jobs commit.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.checklists.model import Template, TemplateError
from kontroll.checklists.models import TemplateVersion
from kontroll.checklists.validation import load_templates, template_from_canonical_json
from kontroll.core import audit
from kontroll.core.errors import ValidationError
from kontroll.db import insert_once, utcnow


def checklists_directory(config: Any) -> Path:
    """Where the templates are: CHECKLISTS_DIR, else the checklists/ folder beside the package."""
    configured = config.get("CHECKLISTS_DIR") if config else None
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "checklists"


def overdue_templates(config: Any, today: dt.date) -> list[Template]:
    """Valid templates past their revideras_senast date (usable, but due for revision)."""
    try:
        return [t for t in file_templates(checklists_directory(config)).values() if t.is_overdue(today)]
    except Exception:  # noqa: BLE001 - an invalid directory is reported by `checklists validate`
        return []


#: the last directory read: (directory, each file's name, size and modification time) and its templates
_read: dict[str, tuple[tuple[object, ...], dict[str, Template]]] = {}


def file_templates(directory: Path) -> dict[str, Template]:
    """The directory's valid templates. Read again whenever a file is added, removed or changed
    (its size or modification time), else taken from the last reading: every start page asks."""
    try:
        stamp = tuple(sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in Path(directory).glob("*.toml")))
    except OSError:
        stamp = ()
    key = str(directory)
    cached = _read.get(key)
    if cached is not None and cached[0] == stamp and stamp:
        return dict(cached[1])
    try:
        templates = load_templates(directory)
    except TemplateError as exc:
        raise ValidationError(f"Mallarna kunde inte läsas: {exc.message}") from exc
    _read[key] = (stamp, templates)
    return dict(templates)


def changed_message(template: Template) -> str:
    return (
        f"Mallen ”{template.title}” ({template.id}) version {template.version} har ändrats utan att versionen "
        "höjts. En använd mallversion får aldrig ändras, eftersom gamla granskningar ska visas med de frågor som "
        "besvarades. Höj versionen i mallfilen (och fastställ den på nytt) eller återställ filen. "
        "Ingenting har sparats."
    )


def stored_version(session: Session, template_id: str, version: int) -> TemplateVersion | None:
    return session.scalar(
        select(TemplateVersion).where(TemplateVersion.template_id == template_id, TemplateVersion.version == version)
    )


def check_unchanged(session: Session, template: Template) -> TemplateVersion | None:
    """The stored version of ``template``, if any; refuses a file changed without a version bump."""
    stored = stored_version(session, template.id, template.version)
    if stored is not None and stored.content_hash != template.content_hash:
        raise ValidationError(changed_message(template))
    return stored


def freeze_version(session: Session, template: Template) -> TemplateVersion:
    """The stored version of ``template``, stored now if this is its first use."""
    stored = check_unchanged(session, template)
    if stored is not None:
        return stored
    row = TemplateVersion(
        template_id=template.id, version=template.version, title=template.title, kind=template.kind,
        content=template.canonical_json, content_hash=template.content_hash, first_used_dt=utcnow(),
    )
    # stored at the same moment by another request: use that one (if it is the same)
    stored = insert_once(session, row, lambda: check_unchanged(session, template))
    if stored is not None:
        return stored
    audit.record(session, "system", "template.freeze", object_type="template_version", object_id=row.id,
                 details={"template": template.id, "version": template.version, "sha256": template.content_hash})
    return row


def template_of(version: TemplateVersion) -> Template:
    return template_from_canonical_json(version.content, version.content_hash)


#: what a template's ``kind`` is called where it is chosen
KIND_NAMES = {"stickprov": "stickprovsgranskning", "genomgång": "genomgång"}


def select_template(directory: Path, kind: str, template_id: str | None = None) -> Template:
    """The template used for ``kind`` ("stickprov" or "genomgång"): the one named by
    ``template_id`` (STICKPROV_TEMPLATE / GENOMGANG_TEMPLATE), which must be of that kind, else
    the first of that kind in the directory. The one rule for both uses."""
    templates = file_templates(directory)
    name = KIND_NAMES.get(kind, kind)
    if template_id:
        chosen = templates.get(template_id)
        if chosen is None or chosen.kind != kind:
            raise ValidationError(f"Mallen ”{template_id}” för {name} finns inte i mallkatalogen"
                                  + (f" (den är en mall för {KIND_NAMES.get(chosen.kind, chosen.kind)})." if chosen
                                     else "."))
        return chosen
    for template in templates.values():
        if template.kind == kind:
            return template
    raise ValidationError(f"Det finns ingen mall för {name} i mallkatalogen.")


def stickprov_template(directory: Path, template_id: str | None = None) -> Template:
    return select_template(directory, "stickprov", template_id)


def genomgang_template(directory: Path, template_id: str | None = None) -> Template:
    return select_template(directory, "genomgång", template_id)


def database_problems(session: Session, templates: dict[str, Template]) -> list[str]:
    """Files changed without a version bump, compared with the stored versions."""
    return [changed_message(t) for t in templates.values()
            if (s := stored_version(session, t.id, t.version)) is not None and s.content_hash != t.content_hash]

"""Template versions as they were when first used: their canonical JSON and SHA-256 are stored
once and never change, so old reviews and genomgångar always show the questions they answered."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from kontroll.db import JSON_TEXT, MACHINE, Base, UTCDateTime, utcnow


class TemplateVersion(Base):
    """A checklist template version as it was when first used (canonical JSON + SHA-256)."""

    __tablename__ = "template_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), info=MACHINE)
    content: Mapped[str] = mapped_column(Text, info=JSON_TEXT)
    content_hash: Mapped[str] = mapped_column(String(64), info=MACHINE)
    first_used_dt: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("template_id", "version"),)


class TemplateVersionImmutableError(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _guard_template_versions(session: Session, _ctx: object, _instances: object) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TemplateVersion) and (obj in session.deleted or session.is_modified(obj)):
            raise TemplateVersionImmutableError("En använd mallversion kan inte ändras.")

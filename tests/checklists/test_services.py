"""Which template a stickprov or genomgång uses: one rule for both (select_template)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kontroll.checklists.services import genomgang_template, select_template, stickprov_template
from kontroll.core.errors import ValidationError

CHECKLISTS = Path(__file__).resolve().parents[2] / "checklists"


def test_each_kind_gets_its_first_template_by_default():
    assert stickprov_template(CHECKLISTS).kind == "stickprov"
    assert genomgang_template(CHECKLISTS).kind == "genomgång"


def test_a_named_template_must_be_of_the_kind_asked_for():
    stickprov = stickprov_template(CHECKLISTS)
    genomgang = genomgang_template(CHECKLISTS)
    assert select_template(CHECKLISTS, "stickprov", stickprov.id) == stickprov
    # STICKPROV_TEMPLATE naming a genomgång template is refused (it used to be accepted)
    with pytest.raises(ValidationError, match="är en mall för genomgång"):
        stickprov_template(CHECKLISTS, genomgang.id)
    with pytest.raises(ValidationError, match="är en mall för stickprovsgranskning"):
        genomgang_template(CHECKLISTS, stickprov.id)
    with pytest.raises(ValidationError, match="finns inte"):
        stickprov_template(CHECKLISTS, "finns-inte")

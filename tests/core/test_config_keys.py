"""Every setting the code reads is declared (with its default and a comment) in
kontroll/config.py, and every declared setting is read: none is silently ignored."""

from __future__ import annotations

import re
from pathlib import Path

import kontroll
from kontroll.config import DEFAULTS

ROOT = Path(kontroll.__file__).parent
#: keys read but not declared, and why
NOT_DECLARED = {
    "AUDIT_KEY_BYTES": "derived at start from AUDIT_KEY or AUDIT_KEY_FILE",
    "TESTING": "Flask's own",
    "PASSWORD_HASH_PROFILE": "tests only (cheap argon2id); not settable from the environment on purpose",
}
#: keys declared but read by Flask or Werkzeug, not by kontroll's code
READ_BY_FLASK = {"MAX_CONTENT_LENGTH"}


def _read_keys() -> set[str]:
    found: set[str] = set()
    for path in ROOT.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'(?:config|cfg)\[\s*"([A-Z][A-Z0-9_]+)"\s*\]', text))
        found |= set(re.findall(r'(?:config|cfg)\.get\(\s*"([A-Z][A-Z0-9_]+)"', text))
    return found


def test_every_setting_read_is_declared():
    assert sorted(_read_keys() - set(DEFAULTS) - set(NOT_DECLARED)) == []


def test_every_declared_setting_is_read():
    assert sorted(set(DEFAULTS) - _read_keys() - READ_BY_FLASK) == []

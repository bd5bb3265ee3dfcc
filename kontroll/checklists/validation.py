"""Reading checklist templates: the TOML files in ``checklists/`` and the stored canonical JSON,
validated by an explicit schema (hand-written checks that collect every problem), so that a
municipality can edit its templates as data and get a clear Swedish message naming the file,
area and item when something is wrong. Nothing here imports Flask or the database.

Why one module of over 500 lines: most of it is one checker (``_Checker``) that walks a
template's fields in the order a person reads the file and collects every problem with its
place; the entry points below it only decide where the text comes from. Split, the messages
and the walk they describe would drift apart.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import unicodedata
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from kontroll.checklists.model import (
    ANSWERS,
    KINDS,
    Area,
    Item,
    Template,
    TemplateError,
    template_to_dict,
)

KEY_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
MAX_KEY_LENGTH = 64

__all__ = ["load_directory", "load_templates", "parse_template", "template_from_canonical_json",
           "validate_directory"]

# Path used in messages for a template rebuilt from the database.
STORED_PATH = "<lagrad mallversion>"

_TOP_TEXT_KEYS = ("id", "title", "fastställd_av", "ansvarig_funktion", "kind", "description")
_TOP_DATE_KEYS = ("fastställd", "revideras_senast")
_TOP_KEYS = (
    "id",
    "title",
    "version",
    "fastställd",
    "fastställd_av",
    "ansvarig_funktion",
    "revideras_senast",
    "kind",
    "description",
    "areas",
)
_AREA_KEYS = ("key", "title", "items")
_ITEM_REQUIRED_KEYS = ("key", "question", "help", "references", "deviation")
_ITEM_OPTIONAL_KEYS = ("answers", "comment_required_on")
_ITEM_KEYS = _ITEM_REQUIRED_KEYS + _ITEM_OPTIONAL_KEYS

# Why a top-level key is required, added to the "missing" message where it helps the
# person editing the file understand that this is a rule of the routine, not pedantry.
_MISSING_HINTS = {
    "fastställd": "en mall måste ha ett datum då den fastställdes",
    "ansvarig_funktion": "en mall måste ange vilken funktion som ansvarar för den",
    "revideras_senast": "en mall måste ange när den senast ska revideras",
    "version": "ange versionsnummer som ett positivt heltal, t.ex. version = 1",
}


def _nfc(value: Any) -> Any:
    """Normalise every string (keys and values) to Unicode NFC, recursively."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    return value


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "ett sant/falskt-värde"
    if isinstance(value, int):
        return "ett heltal"
    if isinstance(value, float):
        return "ett decimaltal"
    if isinstance(value, str):
        return "en text"
    if isinstance(value, datetime):
        return "ett datum med klockslag"
    if isinstance(value, date):
        return "ett datum"
    if isinstance(value, time):
        return "ett klockslag"
    if isinstance(value, list):
        return "en lista"
    if isinstance(value, dict):
        return "en tabell"
    if value is None:
        return "inget värde"
    return type(value).__name__


def _quote_list(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class _Checker:
    """Collects every problem in one template instead of stopping at the first."""

    def __init__(self, path: str, *, dates_as_text: bool):
        self.path = path
        self.dates_as_text = dates_as_text  # canonical JSON stores dates as ISO text
        self.errors: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}" if where else message)

    # -- generic field checks; each returns None when the value is unusable -------------

    def unknown_keys(self, where: str, table: dict[str, Any], allowed: tuple[str, ...]) -> None:
        for key in table:
            if key in allowed:
                continue
            hint = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            suggestion = f" Menade du '{hint[0]}'?" if hint else ""
            self.error(
                where,
                f"okänd nyckel '{key}'.{suggestion} Tillåtna nycklar är {_quote_list(allowed)}.",
            )

    def text(self, where: str, table: dict[str, Any], key: str, hint: str = "", *, strip: bool = True) -> str | None:
        """A required, non-empty text; stripped unless it is a key (keys must be exact)."""
        if key not in table:
            self.error(where, f"obligatorisk nyckel '{key}' saknas" + (f" ({hint})." if hint else "."))
            return None
        value = table[key]
        if not isinstance(value, str):
            self.error(where, f"'{key}' ska vara en text men är {_type_name(value)}.")
            return None
        if not value.strip():
            self.error(where, f"'{key}' får inte vara tom.")
            return None
        return value.strip() if strip else value

    def key_syntax(self, where: str, name: str, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > MAX_KEY_LENGTH or not KEY_PATTERN.match(value):
            self.error(
                where,
                f"'{name}' = '{value}' har ogiltig form: använd bara små bokstäver a–z "
                f"(utan å, ä, ö), siffror och bindestreck mellan orddelar, högst "
                f"{MAX_KEY_LENGTH} tecken (t.ex. 'ssbtek-fore-beslut').",
            )
            return None
        return value

    def positive_int(self, where: str, table: dict[str, Any], key: str, hint: str = "") -> int | None:
        if key not in table:
            self.error(where, f"obligatorisk nyckel '{key}' saknas" + (f" ({hint})." if hint else "."))
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(where, f"'{key}' ska vara ett positivt heltal men är {_type_name(value)}.")
            return None
        if value < 1:
            self.error(where, f"'{key}' ska vara ett positivt heltal (1 eller större), inte {value}.")
            return None
        return value

    def date_value(self, where: str, table: dict[str, Any], key: str, hint: str = "") -> date | None:
        if key not in table:
            self.error(where, f"obligatorisk nyckel '{key}' saknas" + (f" ({hint})." if hint else "."))
            return None
        value = table[key]
        if self.dates_as_text:
            if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                try:
                    return date.fromisoformat(value)
                except ValueError:
                    pass
            self.error(where, f"'{key}' ska vara ett datum på formen ÅÅÅÅ-MM-DD.")
            return None
        # tomllib returns datetime (a subclass of date) for values with a time of day.
        if type(value) is not date:
            self.error(
                where,
                f"'{key}' ska vara ett TOML-datum utan citattecken och utan klockslag, "
                f"t.ex. {key if key.isascii() else chr(34) + key + chr(34)} = 2026-01-15, "
                f"men är {_type_name(value)}.",
            )
            return None
        return value

    def text_list(self, where: str, table: dict[str, Any], key: str, default: list[str] | None = None) -> list[str] | None:
        if key not in table:
            if default is not None:
                return list(default)
            self.error(where, f"obligatorisk nyckel '{key}' saknas.")
            return None
        value = table[key]
        if not isinstance(value, list):
            self.error(where, f"'{key}' ska vara en lista med texter men är {_type_name(value)}.")
            return None
        result: list[str] = []
        ok = True
        for n, entry in enumerate(value, start=1):
            if not isinstance(entry, str):
                self.error(where, f"'{key}': värde nr {n} ska vara en text men är {_type_name(entry)}.")
                ok = False
            elif not entry.strip():
                self.error(where, f"'{key}': värde nr {n} är tomt.")
                ok = False
            else:
                result.append(entry.strip())
        return result if ok else None

    def table_list(self, where: str, table: dict[str, Any], key: str, what: str, toml_hint: str) -> list[Any] | None:
        if key not in table:
            self.error(where, f"obligatorisk nyckel '{key}' saknas: {what} ({toml_hint}).")
            return None
        value = table[key]
        if not isinstance(value, list):
            self.error(where, f"'{key}' ska vara en lista av tabeller ({toml_hint}) men är {_type_name(value)}.")
            return None
        if not value:
            self.error(where, f"'{key}' är tom: {what} ({toml_hint}).")
            return None
        return value

    # -- the template ---------------------------------------------------------------------

    def template(self, data: Any) -> Template | None:
        if not isinstance(data, dict):
            self.error("", f"mallen ska vara en tabell men är {_type_name(data)}.")
            return None
        self.unknown_keys("", data, _TOP_KEYS)

        texts = {
            key: self.text("", data, key, _MISSING_HINTS.get(key, ""), strip=key not in ("id", "kind"))
            for key in _TOP_TEXT_KEYS
        }
        template_id = self.key_syntax("", "id", texts["id"])
        version = self.positive_int("", data, "version", _MISSING_HINTS["version"])
        dates = {key: self.date_value("", data, key, _MISSING_HINTS.get(key, "")) for key in _TOP_DATE_KEYS}
        faststalld, revideras = dates["fastställd"], dates["revideras_senast"]
        if faststalld is not None and revideras is not None and revideras < faststalld:
            self.error(
                "",
                f"'revideras_senast' ({revideras.isoformat()}) ligger före "
                f"'fastställd' ({faststalld.isoformat()}).",
            )
        kind = texts["kind"]
        if kind is not None and kind not in KINDS:
            self.error("", f"'kind' = '{kind}' är okänd; tillåtna värden är {_quote_list(KINDS)}.")
            kind = None

        areas = self.areas(data)

        if self.errors:
            return None
        assert template_id and version and faststalld and revideras and kind and areas is not None
        return Template(
            id=template_id,
            title=texts["title"] or "",
            version=version,
            faststalld=faststalld,
            faststalld_av=texts["fastställd_av"] or "",
            ansvarig_funktion=texts["ansvarig_funktion"] or "",
            revideras_senast=revideras,
            kind=kind,
            description=texts["description"] or "",
            areas=areas,
        )

    def areas(self, data: dict[str, Any]) -> tuple[Area, ...] | None:
        raw_areas = self.table_list(
            "", data, "areas", "mallen måste ha minst ett område", "skriv områden som [[areas]]"
        )
        if raw_areas is None:
            return None
        areas: list[Area] = []
        area_keys: dict[str, int] = {}
        item_keys: dict[str, str] = {}  # item key -> label of the area where first seen
        ok = True
        for n, raw in enumerate(raw_areas, start=1):
            if not isinstance(raw, dict):
                self.error("", f"område nr {n} ska vara en tabell ([[areas]]) men är {_type_name(raw)}.")
                ok = False
                continue
            raw_key = raw.get("key")
            where = f"område '{raw_key}'" if isinstance(raw_key, str) and raw_key.strip() else f"område nr {n}"
            self.unknown_keys(where, raw, _AREA_KEYS)
            key = self.key_syntax(where, "key", self.text(where, raw, "key", strip=False))
            if key is not None:
                if key in area_keys:
                    self.error(where, f"områdesnyckeln '{key}' används redan av område nr {area_keys[key]}.")
                    key = None
                else:
                    area_keys[key] = n
            title = self.text(where, raw, "title")
            items = self.items(where, raw, item_keys)
            if key is None or title is None or items is None:
                ok = False
                continue
            areas.append(Area(key=key, title=title, items=items))
        return tuple(areas) if ok else None

    def items(self, area_where: str, raw_area: dict[str, Any], item_keys: dict[str, str]) -> tuple[Item, ...] | None:
        raw_items = self.table_list(
            area_where,
            raw_area,
            "items",
            "ett område måste ha minst en kontrollpunkt",
            "skriv kontrollpunkter som [[areas.items]]",
        )
        if raw_items is None:
            return None
        items: list[Item] = []
        ok = True
        for n, raw in enumerate(raw_items, start=1):
            if not isinstance(raw, dict):
                self.error(
                    area_where,
                    f"kontrollpunkt nr {n} ska vara en tabell ([[areas.items]]) men är {_type_name(raw)}.",
                )
                ok = False
                continue
            item = self.item(area_where, n, raw, item_keys)
            if item is None:
                ok = False
            else:
                items.append(item)
        return tuple(items) if ok else None

    def item(self, area_where: str, n: int, raw: dict[str, Any], item_keys: dict[str, str]) -> Item | None:
        raw_key = raw.get("key")
        label = f"kontrollpunkt '{raw_key}'" if isinstance(raw_key, str) and raw_key.strip() else f"kontrollpunkt nr {n}"
        where = f"{area_where}, {label}"
        errors_before = len(self.errors)

        self.unknown_keys(where, raw, _ITEM_KEYS)
        key = self.key_syntax(where, "key", self.text(where, raw, "key", strip=False))
        if key is not None:
            if key in item_keys:
                self.error(
                    where,
                    f"nyckeln '{key}' används redan av en annan kontrollpunkt i {item_keys[key]}; "
                    "nycklar för kontrollpunkter måste vara unika i hela mallen.",
                )
            else:
                item_keys[key] = area_where
        question = self.text(where, raw, "question")
        help_text = self.text(where, raw, "help")

        references = self.text_list(where, raw, "references")
        if references is not None and not references:
            self.error(where, "'references' måste innehålla minst en hänvisning (lag, föreskrift, handbok eller lokal rutin).")

        answers = self.answer_list(where, raw, "answers", default=list(ANSWERS))
        if answers is not None:
            if not answers:
                self.error(where, "'answers' får inte vara tom.")
                answers = None
            elif len(answers) < 2:
                self.error(where, "'answers' måste ha minst två svarsalternativ.")
                answers = None

        deviation = self.text(where, raw, "deviation", strip=False)
        if deviation is not None and answers is not None and deviation not in answers:
            self.error(
                where,
                f"'deviation' = '{deviation}' finns inte bland svarsalternativen ({_quote_list(answers)}).",
            )
            deviation = None

        comment_default = [deviation] if deviation is not None else None
        comment_on = self.answer_list(where, raw, "comment_required_on", default=comment_default)
        if comment_on is not None and answers is not None:
            outside = [a for a in comment_on if a not in answers]
            if outside:
                self.error(
                    where,
                    f"'comment_required_on' innehåller {_quote_list(outside)} som inte finns bland "
                    f"svarsalternativen ({_quote_list(answers)}).",
                )
            if deviation is not None and deviation not in comment_on:
                self.error(
                    where,
                    f"'comment_required_on' måste innehålla avvikelsesvaret '{deviation}' "
                    "(en avvikelse ska alltid kommenteras).",
                )

        if len(self.errors) > errors_before:
            return None
        assert key and question and help_text and references and answers and deviation and comment_on is not None
        return Item(
            key=key,
            question=question,
            help=help_text,
            references=tuple(references),
            answers=tuple(answers),
            deviation=deviation,
            comment_required_on=tuple(comment_on),
        )

    def answer_list(self, where: str, raw: dict[str, Any], key: str, default: list[str] | None) -> list[str] | None:
        if key not in raw and default is None:
            return None  # the missing value it defaults from has already been reported
        values = self.text_list(where, raw, key, default=default)
        if values is None:
            return None
        ok = True
        unknown = [v for v in values if v not in ANSWERS]
        if unknown:
            self.error(
                where,
                f"'{key}' innehåller okända svar {_quote_list(unknown)}; tillåtna svar är {_quote_list(ANSWERS)}.",
            )
            ok = False
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            self.error(where, f"'{key}' innehåller {_quote_list(duplicates)} mer än en gång.")
            ok = False
        return values if ok else None


def _build(data: Any, path: str, *, dates_as_text: bool) -> Template:
    checker = _Checker(path, dates_as_text=dates_as_text)
    template = checker.template(_nfc(data))
    if checker.errors or template is None:
        raise TemplateError.from_errors(checker.errors or ["mallen kunde inte läsas."], path)
    from kontroll.privacy.guard import json_strings
    from kontroll.privacy.personnummer import contains_personnummer

    if any(contains_personnummer(text) for text in json_strings(template_to_dict(template))):
        raise TemplateError.from_errors(
            ["en text i mallen innehåller något som ser ut som ett personnummer. En mall får inte innehålla "
             "personnummer: ta bort det."], path)
    return template




def parse_template(text: str, path: str = "<text>") -> Template:
    """Parse and validate one template from TOML text. Raises TemplateError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TemplateError(f"filen är inte giltig TOML: {exc}", path) from exc
    return _build(data, path, dates_as_text=False)


def template_from_canonical_json(s: str, expected_hash: str | None = None) -> Template:
    """Rebuild a stored template version from its canonical JSON.

    The result equals the Template the JSON was made from and has the same
    ``content_hash``. With ``expected_hash`` (the hash stored next to the JSON) a
    mismatch raises TemplateError, so a stored version edited afterwards is detected.
    """

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"nyckeln '{key}' förekommer två gånger")
            result[key] = value
        return result

    try:
        data = json.loads(s, object_pairs_hook=no_duplicates)
    except ValueError as exc:  # includes json.JSONDecodeError
        raise TemplateError(f"den lagrade mallversionen är inte giltig JSON: {exc}", STORED_PATH) from exc
    template = _build(data, STORED_PATH, dates_as_text=True)
    if expected_hash is not None and template.content_hash != expected_hash:
        raise TemplateError(
            f"den lagrade mallversionen '{template.id}' version {template.version} har kontrollsumman "
            f"{template.content_hash}, men {expected_hash} förväntades; innehållet har ändrats.",
            STORED_PATH,
        )
    return template


def _read_file(file: Path) -> Template:
    path = str(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise TemplateError(f"filen kunde inte läsas: {exc.strerror or exc}", path) from exc
    try:
        text = raw.decode("utf-8-sig")  # tolerate a BOM from Windows editors
    except UnicodeDecodeError as exc:
        raise TemplateError(
            f"filen är inte sparad som UTF-8 (fel vid byte {exc.start}); spara om den med teckenkodning UTF-8.",
            path,
        ) from exc
    return parse_template(text, path)


def load_directory(directory: Path) -> tuple[dict[str, Template], list[str]]:
    directory = Path(directory)
    if not directory.is_dir():
        return {}, [f"{directory}: katalogen för mallar finns inte."]
    files = sorted(p for p in directory.glob("*.toml") if p.is_file())
    if not files:
        return {}, [f"{directory}: inga mallar (*.toml) hittades i katalogen."]
    templates: dict[str, Template] = {}
    sources: dict[str, Path] = {}
    errors: list[str] = []
    for file in files:
        try:
            template = _read_file(file)
        except TemplateError as exc:
            errors.extend(f"{exc.path}: {message}" for message in exc.errors)
            continue
        ok = True
        if template.id != file.stem:
            errors.append(f"{file}: 'id' = '{template.id}' måste vara samma som filnamnet utan ändelse ('{file.stem}').")
            ok = False
        if template.id in sources:
            errors.append(f"{file}: 'id' = '{template.id}' används redan av {sources[template.id]}.")
            ok = False
        else:
            sources[template.id] = file
        if ok:
            templates[template.id] = template
    return templates, errors


def load_templates(directory: Path) -> dict[str, Template]:
    """Load and validate every ``*.toml`` in ``directory``, keyed by id.

    Raises TemplateError listing every problem if any file is invalid, an id does not
    match its file name, two files share an id, or there are no templates at all.
    """
    templates, errors = load_directory(Path(directory))
    if errors:
        raise TemplateError.from_errors(errors, str(directory))
    return dict(sorted(templates.items()))


def validate_directory(directory: Path) -> list[str]:
    """Swedish error messages, one per problem, each starting with the file; empty when all is well."""
    _, errors = load_directory(Path(directory))
    return errors

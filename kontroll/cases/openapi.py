"""The OpenAPI 3 document of kontroll's JSON API, served at ``GET /api/v1/openapi.json``.

Built as a plain dict so that it lives next to the views it describes; the fuzz tests load it
with schemathesis and fail when a route under ``/api/`` is missing from it.
"""

from __future__ import annotations

from typing import Any

from kontroll.cases.parsing import FIELD_LABELS, FIELDS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

_ERROR = {
    "type": "object",
    "description": "Ett fel. `fel` är ett meddelande på svenska som kan visas för användaren.",
    "required": ["fel"],
    "properties": {"fel": {"type": "string", "minLength": 1}},
}

_IMPORT_ERROR = {
    "type": "object",
    "description": (
        "Ärendelistan kunde inte tas emot. `kolumn` är rubriken i filen som felet gäller (eller null) och "
        "`rader` är radnumren som i Excel (rubrikraden är normalt rad 1), högst 1000 av dem."
    ),
    "required": ["fel"],
    "properties": {
        "fel": {"type": "string", "minLength": 1},
        "kolumn": {"type": ["string", "null"]},
        "rader": {"type": "array", "items": {"type": "integer", "minimum": 1}, "maxItems": 1000},
    },
}

_CREATED = {
    "type": "object",
    "required": ["id", "importerade", "sha256", "meddelande"],
    "properties": {
        "id": {"type": "integer", "minimum": 1, "description": "Den nya ögonblicksbildens id."},
        "importerade": {"type": "integer", "minimum": 1, "description": "Antal ärenden i listan."},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                   "description": "Kontrollsumma över listans kanoniska form."},
        "meddelande": {"type": "string"},
    },
}

EXAMPLE_CSV = "Ärendenummer;Handläggare;Sign;Grupp\r\nEB-001;Anna A;ANAN;Grupp 1\r\nEB-002;Bo B;BOBO;Grupp 2\r\n"


def _error_response(description: str, schema: str = "Fel") -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def openapi_document() -> dict[str, Any]:
    """The whole document (OpenAPI 3.1)."""
    fields = ", ".join(f"`{f}` ({FIELD_LABELS[f]})" for f in FIELDS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kontroll – API för ärendelistor",
            "version": "1",
            "description": (
                "Maskinellt gränssnitt för att lämna in enhetens ärendelista från verksamhetssystemet. "
                "Varje anrop autentiseras med en API-nyckel som enhetens sektionschef eller administratör "
                "skapar under Ärendelistor → Inställningar. Ett avvisat anrop ändrar ingenting."
            ),
        },
        "paths": {
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "Det här dokumentet",
                    "description": "OpenAPI-beskrivningen av API:et. Kräver ingen inloggning.",
                    "security": [],
                    "responses": {
                        "200": {"description": "OpenAPI-dokumentet.",
                                "content": {"application/json": {"schema": {"type": "object",
                                                                            "required": ["openapi", "paths"]}}}},
                    },
                }
            },
            "/api/v1/enheter/{code}/arendelista": {
                "post": {
                    "operationId": "importeraArendelista",
                    "summary": "Lämna in en ärendelista",
                    "description": (
                        "Sparar filen som en ny ögonblicksbild av enhetens ärendelista, utan förhandsgranskning. "
                        "Kroppen är själva filen: CSV (UTF-8, UTF-8 med BOM eller Windows-1252; avgränsare semikolon, "
                        "komma eller tabb) eller XLSX. Kolumnerna känns igen på rubrikerna, med enhetens sparade "
                        "kolumnmappning och `kolumn`-parametrarna. Fält: " + fields + "."
                    ),
                    "security": [{"apiNyckel": []}],
                    "parameters": [
                        {"name": "code", "in": "path", "required": True,
                         "description": "Enhetens kod, till exempel IFO-FS (skiftläget spelar ingen roll).",
                         "schema": {"type": "string", "minLength": 1}, "example": "IFO-FS"},
                        {"name": "filnamn", "in": "query", "required": False,
                         "description": "Filens namn, för historiken. Standard: api-import.",
                         "schema": {"type": "string"}, "example": "arendelista.csv"},
                        {"name": "kolumn", "in": "query", "required": False, "style": "form", "explode": True,
                         "description": (
                             "Ersätter kolumnmappningen för ett fält: `fält=Rubrik`, till exempel "
                             "`case_ref=Ärende nr`. Kan upprepas."
                         ),
                         "schema": {"type": "array", "items": {"type": "string"}}},
                    ],
                    "requestBody": {
                        "required": True,
                        "description": "Ärendelistan som fil.",
                        "content": {
                            "text/csv": {"schema": {"type": "string"}, "example": EXAMPLE_CSV},
                            XLSX: {"schema": {"type": "string", "format": "binary"}},
                            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                        },
                    },
                    "responses": {
                        "201": {"description": "Listan är sparad.",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Importerad"}}}},
                        "400": _error_response("Adressen eller en parameter innehåller ett otillåtet tecken (NUL)."),
                        "401": _error_response("API-nyckeln saknas, är ogiltig, återkallad, hör till en annan enhet, "
                                               "eller enheten finns inte."),
                        "404": _error_response("Adressen finns inte (till exempel en enhetskod med snedstreck)."),
                        "413": _error_response("Kroppen är större än vad kontroll tar emot."),
                        "422": _error_response("Filen kunde inte läsas som en ärendelista, eller en "
                                               "`kolumn`-parameter är felaktig. Ingenting sparades.",
                                               "Importfel"),
                        "503": _error_response("Databasen svarar inte. Ingenting sparades; försök igen senare."),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "apiNyckel": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Enhetens API-nyckel: `Authorization: Bearer <nyckel>`.",
                }
            },
            "schemas": {"Fel": _ERROR, "Importfel": _IMPORT_ERROR, "Importerad": _CREATED},
        },
    }

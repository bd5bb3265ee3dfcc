"""Exports of the yearly summary: CSV (UTF-8 with BOM, ";", formula-safe) and PDF (fpdf2 with
the embedded DejaVu Sans, so åäö and "–" come out right without any system font).

Both are built from :func:`sections`, so they say the same thing as the page.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from kontroll.core.swedish import percent
from kontroll.core.timezone import local_datetime_text
from kontroll.reports.summary import STATUS_LABELS, Summary

FONT_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Section:
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


def status_text(status: str) -> str:
    return STATUS_LABELS[status]


def sections(s: Summary) -> list[Section]:
    out = [Section("Översikt", ["Enhet", "Samlad status", "Stickprov", "Genomgångar"],
                   [[f"{u.unit_name} ({u.unit_code})", status_text(u.status), status_text(u.stickprov.status),
                     status_text(u.genomgangar.status)] for u in s.units])]
    out.append(Section(
        "Månatligt stickprov",
        ["Enhet", "Månader med stickprov", "Saknade månader", "Dragna ärenden", "Granskade", "Klarmarkerade i tid",
         "Status", "Förklaring"],
        [[u.unit_code, f"{u.stickprov.months_drawn} av {u.stickprov.months_expected}",
          ", ".join(u.stickprov.missing) or "inga", str(u.stickprov.cases_drawn), str(u.stickprov.cases_reviewed),
          str(u.stickprov.signed_on_time), status_text(u.stickprov.status), " ".join(u.stickprov.reasons)]
         for u in s.units]))
    out.append(Section(
        "Genomgångar av alla ärenden",
        ["Enhet", "Genomförda", "Planerade eller pågående", "Mål", "Status", "Förklaring"],
        [[u.unit_code, str(u.genomgangar.done), str(u.genomgangar.pending),
          f"{u.genomgangar.target_min}–{u.genomgangar.target_max}", status_text(u.genomgangar.status),
          " ".join(u.genomgangar.reasons)] for u in s.units]))
    out.append(Section(
        "Avvikelser per område i mallen (stickprov)",
        ["Område", "Granskade ärenden", "Granskade punkter", "Avvikande svar", "Ärenden med avvikelse", "Andel",
         "Övre gräns (95 %)", "Vad det visar"],
        [[a.title, str(a.cases), str(a.items), str(a.deviations), str(a.deviating_cases), percent(a.rate),
          percent(a.upper), a.sentence] for a in s.areas],
        "Övre gräns: ensidig 95 % Clopper–Pearson-gräns för andelen ärenden med avvikelse."))
    c = s.coverage
    out.append(Section(
        "Spridning av stickproven (endast antal)", ["Mått", "Antal"],
        [["Handläggare i årets ärendelistor", str(c.handlaggare)]]
        + [[f"Handläggare som fick {label} granskade", str(n)] for label, n in c.buckets]
        + [["Handläggare som inte fick något ärende granskat", str(c.never)],
           ["Grupper", str(c.teams)], ["Grupper med minst ett draget ärende", str(c.teams_sampled)],
           ["Dragna ärenden per grupp (störst först)", ", ".join(str(n) for n in c.team_counts) or "–"]],
        c.sentence))
    out.append(Section(
        "Brister och åtgärder per område",
        ["Område", "Brister", "Utan åtgärd", "Öppna åtgärder", "Genomförda", "Verifierade", "Försenade"],
        [[a.title, str(a.brister), str(a.without_atgard), str(a.open), str(a.done), str(a.verified), str(a.overdue)]
         for a in s.atgarder],
        "En åtgärd som gäller brister i flera områden räknas i vart och ett av dem."))
    out.append(Section(
        "Avsteg från reglerna om åtskillnad", ["Enhet", "Månad", "Regel", "Motivering"],
        [[u.unit_code, o.month, o.rule, o.shown_reason] for u in s.units for o in u.overrides]))
    out.append(Section(
        "Sektionschefens bedömning", ["Enhet", "Version", "Signerad", "Bedömning"],
        [[u.unit_code, str(u.assessment.version), u.assessment.signed_date.isoformat(), u.assessment.shown_text]
         if u.assessment else [u.unit_code, "–", "–", "Ingen bedömning är signerad ännu."] for u in s.units]))
    out.append(Section(
        "Fingeravtryck från händelseloggen", ["Mått", "Värde"],
        [["Senaste post (nummer)", str(s.fingerprint.entry_id) if s.fingerprint.entry_id else "–"],
         ["Senaste post (tid)", (local_datetime_text(s.fingerprint.occurred) or "–")],
         ["Kedjans huvudhash (HMAC-SHA256)", s.fingerprint.head_hash or "–"]],
        "Varje post i händelseloggen är kedjad till den föregående med en nyckel som förvaras utanför "
        "databasen. En revisor kan med kommandot kontroll audit verify räkna om kedjan och se att den "
        "slutar i samma huvudhash: då har ingen post före den ändrats eller tagits bort."))
    out.append(Section("Regler för statusfärgerna", ["Regel", "Innebörd"], [[a, b] for a, b in s.rules]))
    return out


# --- CSV -------------------------------------------------------------------------------------


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def to_csv(s: Summary) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerow([safe_cell(x) for x in ["Nämndens årssammanfattning", s.title, str(s.year),
                                            f"Skapad {s.today.isoformat()}"]])
    for sec in sections(s):
        writer.writerow([])
        writer.writerow([safe_cell(sec.title)])
        if sec.note:
            writer.writerow([safe_cell(sec.note)])
        writer.writerow([safe_cell(h) for h in sec.headers])
        for row in sec.rows:
            writer.writerow([safe_cell(c) for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# --- PDF -------------------------------------------------------------------------------------


def to_pdf(s: Summary) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    title = f"Nämndens årssammanfattning {s.year} – {s.title}"
    created = s.today.isoformat()

    class _PDF(FPDF):
        def header(self) -> None:
            self.set_font("DejaVu", "", 8)
            self.cell(0, 5, f"{s.title} · {s.year}", align="L")
            self.ln(8)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", "", 8)
            self.cell(0, 5, f"Internkontroll {s.year} – {s.title} – skapad {created} – sida {self.page_no()} av {{nb}}",
                      align="C")

    pdf = _PDF(format="A4")
    pdf.set_title(title)
    pdf.set_creator("kontroll")
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=16)
    pdf.alias_nb_pages()
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(0, 5, f"År: {s.year}. Enhet: {s.title}. Datum: {created}. Samlad status: {status_text(s.status)}.\n"
                         "Sammanfattningen innehåller bara sammanställda siffror – inga ärendenummer och inga namn.",
                   new_x="LMARGIN", new_y="NEXT")
    heading = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    for sec in sections(s):
        pdf.ln(3)
        pdf.set_font("DejaVu", "B", 12)
        pdf.multi_cell(0, 6, sec.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("DejaVu", "", 8)
        if sec.note:
            pdf.multi_cell(0, 4, sec.note, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        if not sec.rows:
            pdf.multi_cell(0, 5, "Inga.", new_x="LMARGIN", new_y="NEXT")
            continue
        with pdf.table(headings_style=heading, line_height=4, text_align="LEFT") as table:
            table.row(sec.headers)
            for row in sec.rows:
                table.row(row)
    return bytes(pdf.output())

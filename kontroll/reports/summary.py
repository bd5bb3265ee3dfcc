"""The committee's yearly summary (Nämndens årssammanfattning): pure aggregation.

Everything here reads the database and returns dataclasses with counts, rates and Swedish
sentences. Nothing in them identifies a client or a handläggare (design.md, invariant 5):
no case reference, no name, no signature, no team name. The status rules are documented in
``docs/summary-rules.md`` and shown on the page (:data:`STATUS_RULES`).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kontroll.cases.models import CaseListSnapshot, SnapshotCase
from kontroll.core.models import AuditEntry, Unit
from kontroll.genomgang import services as genomgang_svc
from kontroll.privacy.committee import CommitteeTextCheck
from kontroll.privacy.committee import describe as describe_identifiers
from kontroll.reports.models import Assessment
from kontroll.reports.stats import clopper_pearson_upper, plain_swedish_bound, required_sample_size
from kontroll.reviews.models import Atgard, AtgardState, Brist, Review, ReviewAnswer, ReviewState, TemplateVersion
from kontroll.reviews.services import late_after, template_of
from kontroll.sampling.models import Assignment, Draw, DrawnCase

MONTH_NAMES = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
               "september", "oktober", "november", "december")
CONFIDENCE = 0.95
#: the months after the drawn month within which a review must be signed (reviews.late_after)
SIGN_WITHIN_MONTHS = 1

GRON, GUL, ROD, INGEN = "grön", "gul", "röd", "ingen"
STATUS_LABELS = {GRON: "Grön – enligt plan", GUL: "Gul – brister i genomförandet",
                 ROD: "Röd – kontrollen är inte genomförd", INGEN: "Ingen bedömning – året har inte börjat"}
STATUS_TAGS = {GRON: "tag-ok", GUL: "tag-warn", ROD: "tag-bad", INGEN: ""}
_RANK = {INGEN: 0, GRON: 1, GUL: 2, ROD: 3}

#: the rules, as shown on the page, in the PDF and in docs/summary-rules.md
STATUS_RULES: tuple[tuple[str, str], ...] = (
    ("Stickprov – röd", "en månad som har passerat saknar stickprov (månaderna namnges), eller ett draget "
                        "ärende är inte granskat fast tiden för granskning har gått ut."),
    ("Stickprov – gul", "alla passerade månader har stickprov, men någon granskning signerades för sent "
                        "(senare än månaden efter den dragna månaden), eller innevarande månad saknar ännu stickprov."),
    ("Stickprov – grön", "alla passerade månader har stickprov och alla granskningar är signerade i tid "
                         "(eller har ännu tid kvar)."),
    ("Genomgångar – röd", "för ett avslutat år: färre genomförda än målets minimum. För innevarande år: "
                          "genomförda och planerade räcker inte till minimum."),
    ("Genomgångar – gul", "fler än målets maximum, eller ojämnt spridda över året (ett halvår utan "
                          "genomgång, alla i samma kvartal, eller mer än 122 dagar mellan två)."),
    ("Genomgångar – grön", "målet är nått (eller nås med de planerade för innevarande år) och de är spridda över året."),
    ("Samlad status", "den sämsta av kontrollmomentens färger. Förvaltningens status är den sämsta av enheternas."),
)


def worst(*statuses: str) -> str:
    return max(statuses, key=lambda s: _RANK[s]) if statuses else INGEN


def month_name(period: str) -> str:
    year, month = (int(x) for x in period.split("-"))
    return f"{MONTH_NAMES[month - 1]} {year}"


def swedish_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " och " + items[-1]


def percent(rate: float | None) -> str:
    if rate is None:
        return "–"
    return f"{rate * 100:.1f} %".replace(".", ",")


# --- dataclasses ---------------------------------------------------------------------------


@dataclass
class MonthRow:
    period: str
    name: str
    has_draw: bool
    drawn: int
    reviewed: int
    on_time: int
    ended: bool


@dataclass
class StickprovSummary:
    months_expected: int
    months_drawn: int
    missing: list[str]
    cases_drawn: int
    cases_reviewed: int
    signed_on_time: int
    signed_late: int
    overdue_unreviewed: int
    status: str
    reasons: list[str]
    months: list[MonthRow] = field(default_factory=list)


@dataclass
class GenomgangSummary:
    done: int
    pending: int
    target_min: int
    target_max: int
    status: str
    reasons: list[str]


@dataclass
class AreaRow:
    key: str
    title: str
    cases: int  # reviewed cases in which the area was assessed
    items: int  # reviewed items (answers other than "ej aktuellt")
    deviations: int  # deviating answers
    deviating_cases: int
    rate: float | None  # deviating cases / cases
    upper: float | None  # one-sided 95 % Clopper–Pearson bound on the case rate
    sentence: str


@dataclass
class Coverage:
    handlaggare: int  # distinct handläggare in the year's case lists
    sampled: int
    never: int
    buckets: list[tuple[str, int]]  # ("1–2 ärenden", number of handläggare)
    teams: int
    teams_sampled: int
    team_counts: list[int]  # drawn cases per team, largest first, no team names
    sentence: str


@dataclass
class AtgardRow:
    key: str
    title: str
    brister: int
    without_atgard: int
    open: int
    done: int
    verified: int
    overdue: int


#: what the committee's outputs show instead of a text that identifies someone (invariant 9)
WITHHELD_TEXT = "Texten visas inte för nämnden: den innehåller uppgifter som kan identifiera en person."


@dataclass
class OverrideRow:
    month: str
    rule: str
    reason: str
    #: what identifies someone in the reason (kontroll.privacy.committee kinds); then withheld
    withheld: tuple[str, ...] = ()

    @property
    def shown_reason(self) -> str:
        return WITHHELD_TEXT if self.withheld else self.reason

    @property
    def withheld_note(self) -> str:
        """For the sektionschef: why the reason is not shown to the nämnd."""
        return (f"Motiveringen för {self.month} visas inte för nämnden, eftersom den innehåller "
                f"{describe_identifiers(list(self.withheld))}. Den finns kvar vid stickprovet.")


@dataclass
class AssessmentView:
    id: int
    text: str
    signed_date: dt.date
    version: int
    signed_by_role: str = "sektionschefen"
    #: what identifies someone in the text (kontroll.privacy.committee kinds); then withheld
    withheld: tuple[str, ...] = ()

    @property
    def shown_text(self) -> str:
        return WITHHELD_TEXT if self.withheld else self.text

    @property
    def withheld_note(self) -> str:
        """For the sektionschef: why the text is not shown to the nämnd."""
        return (f"Bedömningen (version {self.version}) visas inte för nämnden, eftersom den innehåller "
                f"{describe_identifiers(list(self.withheld))}. Signera en ny version utan sådana uppgifter.")


@dataclass
class UnitSummary:
    unit_id: int
    unit_code: str
    unit_name: str
    year: int
    stickprov: StickprovSummary
    genomgangar: GenomgangSummary
    areas: list[AreaRow]
    coverage: Coverage
    atgarder: list[AtgardRow]
    overrides: list[OverrideRow]
    assessment: AssessmentView | None
    sample_size: int

    @property
    def status(self) -> str:
        return worst(self.stickprov.status, self.genomgangar.status)


@dataclass
class Fingerprint:
    entry_id: int | None
    occurred: dt.datetime | None


@dataclass
class Summary:
    """One unit (``units`` has one element) or the förvaltning (all units given)."""

    year: int
    title: str
    is_forvaltning: bool
    units: list[UnitSummary]
    areas: list[AreaRow]
    atgarder: list[AtgardRow]
    coverage: Coverage
    fingerprint: Fingerprint
    today: dt.date
    months_expected: int

    @property
    def status(self) -> str:
        return worst(*(u.status for u in self.units)) if self.units else INGEN

    @property
    def cases_drawn(self) -> int:
        return sum(u.stickprov.cases_drawn for u in self.units)

    @property
    def cases_reviewed(self) -> int:
        return sum(u.stickprov.cases_reviewed for u in self.units)


@dataclass
class Planner:
    tolerable: float
    yearly: int
    monthly: int
    sentence: str


# --- helpers -----------------------------------------------------------------------------


def local_date(moment: dt.datetime, tz: str) -> dt.date:
    return moment.astimezone(ZoneInfo(tz)).date()


def _year_bounds(year: int, tz: str) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(tz)
    start = dt.datetime(year, 1, 1, tzinfo=zone).astimezone(dt.timezone.utc)
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone).astimezone(dt.timezone.utc)
    return start, end


def months_expected(year: int, today: dt.date) -> int:
    """Months of ``year`` that have begun by ``today``."""
    if year < today.year:
        return 12
    if year > today.year:
        return 0
    return today.month


def planner(tolerable: float, per_year_months: int = 12) -> Planner:
    yearly = required_sample_size(tolerable, CONFIDENCE, 0)
    monthly = -(-yearly // per_year_months)
    pct = f"{tolerable * 100:g}".replace(".", ",")
    return Planner(tolerable, yearly, monthly,
                   f"För att med 95 % säkerhet kunna säga att felandelen är under {pct} %, om inga avvikelser "
                   f"hittas, behövs {yearly} granskade ärenden per år – {monthly} per månad.")


# --- stickprov -----------------------------------------------------------------------------


def stickprov_summary(session: Session, unit: Unit, year: int, today: dt.date, tz: str) -> StickprovSummary:
    expected = months_expected(year, today)
    draws = {d.period: d for d in session.scalars(
        select(Draw).where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None)))}
    counts: dict[str, int] = dict(session.execute(
        select(Draw.period, func.count(DrawnCase.id)).join(DrawnCase, DrawnCase.draw_id == Draw.id)
        .where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None))
        .group_by(Draw.period)).tuples().all())
    signed: dict[str, list[dt.datetime]] = defaultdict(list)
    for period, signed_dt in session.execute(
        select(Draw.period, Review.signed_dt).join(DrawnCase, DrawnCase.draw_id == Draw.id)
        .join(Review, Review.drawn_case_id == DrawnCase.id)
        .where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None),
               Review.state == ReviewState.KLAR.value)
    ).tuples():
        signed[period].append(signed_dt)
    months: list[MonthRow] = []
    missing: list[str] = []
    drawn_total = reviewed_total = on_time_total = late_total = overdue_total = 0
    current_missing = False
    for month in range(1, 13):
        period = f"{year:04d}-{month:02d}"
        ended = dt.date(year, month, calendar.monthrange(year, month)[1]) < today
        deadline = late_after(period, SIGN_WITHIN_MONTHS)
        drawn = counts.get(period, 0)
        dates = [local_date(s, tz) for s in signed.get(period, [])]
        on_time = sum(1 for d in dates if d <= deadline)
        months.append(MonthRow(period, month_name(period), period in draws, drawn, len(dates), on_time, ended))
        if month <= expected and period not in draws:
            if ended:
                missing.append(month_name(period))
            else:
                current_missing = True
        drawn_total += drawn
        reviewed_total += len(dates)
        on_time_total += on_time
        late_total += len(dates) - on_time
        if today > deadline:
            overdue_total += max(0, drawn - len(dates))
    reasons: list[str] = []
    if expected == 0:
        status = INGEN
        reasons.append("Året har inte börjat.")
    else:
        status = GRON
        if missing:
            status = ROD
            reasons.append(f"Stickprov saknas för {swedish_list(missing)}.")
        if overdue_total:
            status = ROD
            reasons.append(f"{overdue_total} dragna ärenden är inte granskade fast tiden har gått ut.")
        if late_total:
            status = worst(status, GUL)
            reasons.append(f"{late_total} granskningar signerades för sent.")
        if current_missing:
            status = worst(status, GUL)
            reasons.append(f"Stickprov för {MONTH_NAMES[today.month - 1]} är inte draget ännu.")
        if status == GRON:
            reasons.append("Stickprov finns för alla månader och granskningarna är signerade i tid.")
    return StickprovSummary(expected, sum(1 for m in months[:expected] if m.has_draw), missing, drawn_total,
                            reviewed_total, on_time_total, late_total, overdue_total, status, reasons, months)


# --- genomgångar -----------------------------------------------------------------------------


def genomgang_summary(session: Session, unit: Unit, year: int, today: dt.date) -> GenomgangSummary:
    a = genomgang_svc.assess_unit_year(session, unit, year)
    reasons: list[str] = []
    if year > today.year:
        status = INGEN
        reasons.append("Året har inte börjat.")
    elif year < today.year:
        status = GRON
        if a.done < a.target_min:
            status = ROD
            reasons.append(f"{a.done} genomförda av minst {a.target_min}.")
        elif a.done > a.target_max:
            status = GUL
            reasons.append(f"{a.done} genomförda, fler än målets högst {a.target_max}.")
    else:
        status = GRON
        if a.target_unreachable:
            status = ROD
        elif a.done + a.pending > a.target_max:
            status = GUL
        reasons.extend(a.target_warnings)
    if status != INGEN and a.spacing_warnings:
        status = worst(status, GUL)
        reasons.extend(a.spacing_warnings)
    if status == GRON and not reasons:
        reasons.append(a.summary + ".")
    return GenomgangSummary(a.done, a.pending, a.target_min, a.target_max, status, reasons)


# --- deviations per area -------------------------------------------------------------------


@dataclass
class _AreaCount:
    title: str
    items: int = 0
    deviations: int = 0
    cases: set[int] = field(default_factory=set)
    deviating: set[int] = field(default_factory=set)


def _area_counts(session: Session, unit_ids: list[int], year: int) -> dict[str, _AreaCount]:
    """Signed reviews of the year's valid draws, per checklist area."""
    if not unit_ids:
        return {}
    rows = session.execute(
        select(Review.id, Review.template_version_id, ReviewAnswer.item_key, ReviewAnswer.answer)
        .join(ReviewAnswer, ReviewAnswer.review_id == Review.id)
        .join(DrawnCase, DrawnCase.id == Review.drawn_case_id)
        .join(Draw, Draw.id == DrawnCase.draw_id)
        .where(Review.unit_id.in_(unit_ids), Review.state == ReviewState.KLAR.value,
               Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None))
    ).tuples().all()
    versions = {tv.id: template_of(tv) for tv in session.scalars(
        select(TemplateVersion).where(TemplateVersion.id.in_({r[1] for r in rows})))} if rows else {}
    lookup: dict[int, dict[str, tuple[str, str, object]]] = {}
    for vid, template in versions.items():
        lookup[vid] = {item.key: (area.key, area.title, item) for area, item in template.items()}
    out: dict[str, _AreaCount] = {}
    for review_id, vid, item_key, answer in rows:
        hit = lookup.get(vid, {}).get(item_key)
        if hit is None or answer in (None, "ej_aktuellt"):
            continue
        area_key, area_title, item = hit
        count = out.setdefault(area_key, _AreaCount(area_title))
        count.items += 1
        count.cases.add(review_id)
        if item.is_deviation(answer):  # type: ignore[attr-defined]
            count.deviations += 1
            count.deviating.add(review_id)
    return out


def _area_rows(counts: dict[str, _AreaCount]) -> list[AreaRow]:
    rows = []
    for key, c in counts.items():
        n, d = len(c.cases), len(c.deviating)
        rows.append(AreaRow(key, c.title, n, c.items, c.deviations, d, d / n if n else None,
                            clopper_pearson_upper(n, d, CONFIDENCE) if n else None,
                            plain_swedish_bound(n, d, CONFIDENCE)))
    return sorted(rows, key=lambda r: r.title)


def _merge_area_counts(many: list[dict[str, _AreaCount]]) -> dict[str, _AreaCount]:
    out: dict[str, _AreaCount] = {}
    for counts in many:
        for key, c in counts.items():
            m = out.setdefault(key, _AreaCount(c.title))
            m.items += c.items
            m.deviations += c.deviations
            m.cases |= c.cases  # review ids are unique across units
            m.deviating |= c.deviating
    return out


# --- coverage ------------------------------------------------------------------------------

BUCKETS = ((1, 2, "1–2 ärenden"), (3, 5, "3–5 ärenden"), (6, None, "6 ärenden eller fler"))


@dataclass
class _CoverageRaw:
    population: set[tuple[int, str]]  # (unit id, handläggare key)
    sampled: Counter[tuple[int, str]]
    teams: set[tuple[int, str]]
    team_sampled: Counter[tuple[int, str]]


def _handlaggare_key(user_id: int | None, signatur: str | None, namn: str | None) -> str:
    if user_id is not None:
        return f"u{user_id}"
    return f"s{signatur}" if signatur else f"n{namn or ''}"


def _coverage_raw(session: Session, unit: Unit, year: int, tz: str) -> _CoverageRaw:
    start, end = _year_bounds(year, tz)
    population: set[tuple[int, str]] = set()
    teams: set[tuple[int, str]] = set()
    for uid, sig, namn, team in session.execute(
        select(SnapshotCase.handlaggare_user_id, SnapshotCase.handlaggare_signatur, SnapshotCase.handlaggare_namn,
               SnapshotCase.team).distinct()
        .join(CaseListSnapshot, CaseListSnapshot.id == SnapshotCase.snapshot_id)
        .where(CaseListSnapshot.unit_id == unit.id, CaseListSnapshot.imported_dt >= start,
               CaseListSnapshot.imported_dt < end)
    ).tuples():
        if uid is not None or sig or namn:
            population.add((unit.id, _handlaggare_key(uid, sig, namn)))
        if team:
            teams.add((unit.id, team))
    sampled: Counter[tuple[int, str]] = Counter()
    team_sampled: Counter[tuple[int, str]] = Counter()
    for uid, sig, namn, team in session.execute(
        select(SnapshotCase.handlaggare_user_id, SnapshotCase.handlaggare_signatur, SnapshotCase.handlaggare_namn,
               SnapshotCase.team)
        .join(DrawnCase, DrawnCase.snapshot_case_id == SnapshotCase.id)
        .join(Draw, Draw.id == DrawnCase.draw_id)
        .where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Draw.voided_dt.is_(None))
    ).tuples():
        if uid is not None or sig or namn:
            key = (unit.id, _handlaggare_key(uid, sig, namn))
            sampled[key] += 1
            population.add(key)
        if team:
            team_sampled[(unit.id, team)] += 1
            teams.add((unit.id, team))
    return _CoverageRaw(population, sampled, teams, team_sampled)


def _coverage(raw: _CoverageRaw) -> Coverage:
    buckets = []
    for low, high, label in BUCKETS:
        n = sum(1 for v in raw.sampled.values() if v >= low and (high is None or v <= high))
        buckets.append((label, n))
    never = len(raw.population - set(raw.sampled))
    total = len(raw.population)
    parts = [f"{n} fick {label} granskade" for label, n in buckets if n]
    if total == 0:
        sentence = "Inga ärendelistor för året – spridningen kan inte beräknas."
    else:
        sentence = (f"Av {total} handläggare i årets ärendelistor " + (swedish_list(parts) if parts else "fick ingen något ärende granskat")
                    + (f"; {never} fick inget ärende granskat." if never and parts else "."))
    team_counts = sorted(raw.team_sampled.values(), reverse=True)
    return Coverage(total, len(raw.sampled), never, buckets, len(raw.teams), len(raw.team_sampled), team_counts, sentence)


def _merge_coverage(raws: list[_CoverageRaw]) -> _CoverageRaw:
    out = _CoverageRaw(set(), Counter(), set(), Counter())
    for r in raws:
        out.population |= r.population
        out.sampled.update(r.sampled)
        out.teams |= r.teams
        out.team_sampled.update(r.team_sampled)
    return out


# --- brister and åtgärder ------------------------------------------------------------------


def _atgard_rows(session: Session, unit_ids: list[int], year: int, today: dt.date, tz: str) -> list[AtgardRow]:
    """Brister created in the year, per area, and the state of the åtgärder taken for them.
    An åtgärd that covers brister in several areas counts once in each of those areas."""
    if not unit_ids:
        return []
    start, end = _year_bounds(year, tz)
    brister = session.execute(
        select(Brist.id, Brist.area_key, Brist.area_title)
        .where(Brist.unit_id.in_(unit_ids), Brist.created_dt >= start, Brist.created_dt < end)
    ).tuples().all()
    links: dict[int, list[tuple[int, str, dt.date]]] = defaultdict(list)
    if brister:
        from kontroll.reviews.models import atgard_brister

        for brist_id, atgard_id, state, due in session.execute(
            select(atgard_brister.c.brist_id, Atgard.id, Atgard.state, Atgard.due_date)
            .join(Atgard, Atgard.id == atgard_brister.c.atgard_id)
            .join(Brist, Brist.id == atgard_brister.c.brist_id)
            .where(Brist.unit_id.in_(unit_ids), Brist.created_dt >= start, Brist.created_dt < end)
        ).tuples():
            links[brist_id].append((atgard_id, state, due))
    per_area: dict[str, dict[str, object]] = {}
    for brist_id, key, title in brister:
        a = per_area.setdefault(key, {"title": title, "brister": 0, "without": 0, "atgarder": {}})
        a["brister"] += 1  # type: ignore[operator]
        if not links.get(brist_id):
            a["without"] += 1  # type: ignore[operator]
        for atgard_id, state, due in links.get(brist_id, []):
            a["atgarder"][atgard_id] = (state, due)  # type: ignore[index]
    rows = []
    for key, a in per_area.items():
        atg: dict[int, tuple[str, dt.date]] = a["atgarder"]  # type: ignore[assignment]
        states = [s for s, _ in atg.values()]
        rows.append(AtgardRow(
            key, str(a["title"]), int(a["brister"]), int(a["without"]),  # type: ignore[call-overload]
            states.count(AtgardState.OPPEN.value), states.count(AtgardState.GENOMFORD.value),
            states.count(AtgardState.VERIFIERAD.value),
            sum(1 for s, due in atg.values() if s == AtgardState.OPPEN.value and today > due)))
    return sorted(rows, key=lambda r: r.title)


def _merge_atgard_rows(many: list[list[AtgardRow]]) -> list[AtgardRow]:
    out: dict[str, AtgardRow] = {}
    for rows in many:
        for r in rows:
            m = out.setdefault(r.key, AtgardRow(r.key, r.title, 0, 0, 0, 0, 0, 0))
            m.brister += r.brister
            m.without_atgard += r.without_atgard
            m.open += r.open
            m.done += r.done
            m.verified += r.verified
            m.overdue += r.overdue
    return sorted(out.values(), key=lambda r: r.title)


# --- overrides, bedömning, fingerprint -------------------------------------------------------

RULE_LABELS = {"hemmablindhet": "Hemmablindhet (granskaren leder ärendets grupp)",
               "roll": "Roll (granskaren har inte en granskande roll)"}


def overrides(session: Session, unit: Unit, year: int, check: CommitteeTextCheck | None = None) -> list[OverrideRow]:
    check = check or CommitteeTextCheck(session)
    rows = session.execute(
        select(Draw.period, Assignment.override_rule, Assignment.override_reason)
        .join(DrawnCase, DrawnCase.id == Assignment.drawn_case_id).join(Draw, Draw.id == DrawnCase.draw_id)
        .where(Draw.unit_id == unit.id, Draw.period.like(f"{year:04d}-%"), Assignment.override_rule.is_not(None))
        .order_by(Draw.period, Assignment.id)
    ).tuples().all()
    return [OverrideRow(month_name(p), RULE_LABELS.get(rule or "", rule or ""), reason or "",
                        tuple(check.kinds(reason, [unit.id]))) for p, rule, reason in rows]


def current_assessment(session: Session, unit: Unit, year: int, tz: str,
                       check: CommitteeTextCheck | None = None) -> AssessmentView | None:
    rows = list(session.scalars(select(Assessment).where(Assessment.unit_id == unit.id, Assessment.year == year)
                                .order_by(Assessment.signed_dt, Assessment.id)))
    if not rows:
        return None
    last = rows[-1]
    kinds = (check or CommitteeTextCheck(session)).kinds(last.text, [unit.id])
    return AssessmentView(last.id, last.text, local_date(last.signed_dt, tz), len(rows), withheld=tuple(kinds))


def fingerprint(session: Session) -> Fingerprint:
    row = session.execute(select(AuditEntry.id, AuditEntry.occurred_dt).order_by(AuditEntry.id.desc()).limit(1)).first()
    return Fingerprint(row[0], row[1]) if row else Fingerprint(None, None)


# --- the summary ---------------------------------------------------------------------------


def _unit_summary(session: Session, unit: Unit, year: int, today: dt.date, tz: str, check: CommitteeTextCheck
                  ) -> tuple[UnitSummary, dict[str, _AreaCount], _CoverageRaw]:
    counts = _area_counts(session, [unit.id], year)
    raw = _coverage_raw(session, unit, year, tz)
    us = UnitSummary(
        unit.id, unit.code, unit.name, year,
        stickprov_summary(session, unit, year, today, tz),
        genomgang_summary(session, unit, year, today),
        _area_rows(counts), _coverage(raw), _atgard_rows(session, [unit.id], year, today, tz),
        overrides(session, unit, year, check), current_assessment(session, unit, year, tz, check), unit.sample_size)
    return us, counts, raw


def build_summary(session: Session, units: list[Unit], year: int, today: dt.date, tz: str = "Europe/Stockholm",
                  *, forvaltning: bool = False, title: str | None = None) -> Summary:
    """The summary of ``units`` for ``year``; ``forvaltning`` adds totals over all of them."""
    check = CommitteeTextCheck(session)
    parts = [_unit_summary(session, u, year, today, tz, check) for u in units]
    unit_summaries = [p[0] for p in parts]
    if forvaltning:
        areas = _area_rows(_merge_area_counts([p[1] for p in parts]))
        coverage = _coverage(_merge_coverage([p[2] for p in parts]))
        atgarder = _merge_atgard_rows([u.atgarder for u in unit_summaries])
    else:
        only = unit_summaries[0]
        areas, coverage, atgarder = only.areas, only.coverage, only.atgarder
    name = title or (f"{units[0].name} ({units[0].code})" if len(units) == 1 and not forvaltning else "Hela förvaltningen")
    return Summary(year, name, forvaltning, unit_summaries, areas, atgarder, coverage, fingerprint(session), today,
                   months_expected(year, today))


# --- comparison with earlier years ---------------------------------------------------------


@dataclass
class YearPoint:
    year: int
    months_drawn: int
    reviewed: int
    deviating: int
    genomgangar: int

    @property
    def rate(self) -> float | None:
        return self.deviating / self.reviewed if self.reviewed else None


def history(session: Session, units: list[Unit], last_year: int, years: int = 6) -> list[YearPoint]:
    """Per year, from ``last_year - years + 1`` to ``last_year``: months with a draw, signed
    reviews, reviews with at least one brist and closed genomgångar, summed over ``units``."""
    first = last_year - years + 1
    ids = [u.id for u in units]
    points = {y: YearPoint(y, 0, 0, 0, 0) for y in range(first, last_year + 1)}
    if not ids:
        return list(points.values())
    period_from, period_to = f"{first:04d}-01", f"{last_year:04d}-12"
    valid = (Draw.unit_id.in_(ids), Draw.voided_dt.is_(None), Draw.period >= period_from, Draw.period <= period_to)
    for period, n in session.execute(select(Draw.period, func.count(func.distinct(Draw.unit_id))).where(*valid)
                                     .group_by(Draw.period)).tuples():
        points[int(period[:4])].months_drawn += n  # unit-months with a valid draw
    for period, n in session.execute(
        select(Draw.period, func.count(Review.id)).join(DrawnCase, DrawnCase.draw_id == Draw.id)
        .join(Review, Review.drawn_case_id == DrawnCase.id)
        .where(*valid, Review.state == ReviewState.KLAR.value).group_by(Draw.period)).tuples():
        points[int(period[:4])].reviewed += n
    for period, n in session.execute(
        select(Draw.period, func.count(func.distinct(Brist.review_id))).join(DrawnCase, DrawnCase.draw_id == Draw.id)
        .join(Review, Review.drawn_case_id == DrawnCase.id).join(Brist, Brist.review_id == Review.id)
        .where(*valid, Review.state == ReviewState.KLAR.value).group_by(Draw.period)).tuples():
        points[int(period[:4])].deviating += n
    from kontroll.genomgang.models import Genomgang

    for year, n in session.execute(
        select(Genomgang.year, func.count()).where(Genomgang.unit_id.in_(ids), Genomgang.year >= first,
                                                   Genomgang.year <= last_year, Genomgang.closed_dt.is_not(None))
        .group_by(Genomgang.year)).tuples():
        points[int(year)].genomgangar += n
    return list(points.values())


def years_present(session: Session, units: list[Unit]) -> list[int]:
    """Years with a draw or a genomgång in any of ``units``, ascending."""
    ids = [u.id for u in units]
    if not ids:
        return []
    from kontroll.genomgang.models import Genomgang

    years = {int(p[:4]) for p in session.scalars(select(Draw.period).where(Draw.unit_id.in_(ids)).distinct())}
    years |= set(session.scalars(select(Genomgang.year).where(Genomgang.unit_id.in_(ids)).distinct()))
    return sorted(years)

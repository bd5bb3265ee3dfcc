"""The summary's building blocks: statuses, their rules, and the dataclasses every part fills.

Nothing in these identifies a client or a handläggare (docs/architecture.md, invariant 5).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kontroll.core.swedish import count as swedish_count
from kontroll.core.swedish import number
from kontroll.privacy.committee import describe as describe_identifiers
from kontroll.reports.stats import required_sample_size

CONFIDENCE = 0.95

GRON, GUL, ROD, INGEN = "grön", "gul", "röd", "ingen"
STATUS_LABELS = {GRON: "Grön – enligt plan", GUL: "Gul – brister i genomförandet",
                 ROD: "Röd – kontrollen är inte genomförd", INGEN: "Ingen bedömning – året har inte börjat"}
STATUS_TAGS = {GRON: "tag-ok", GUL: "tag-warn", ROD: "tag-bad", INGEN: ""}
_RANK = {INGEN: 0, GRON: 1, GUL: 2, ROD: 3}


def status_rules(late_months: int) -> tuple[tuple[str, str], ...]:
    """The rules, as shown on the page, in the PDF and in docs/summary-rules.md; the deadline
    for a review is the setting REVIEW_LATE_AFTER_MONTHS (``late_months``)."""
    after = ("under månaden efter den dragna månaden" if late_months == 1 else
             f"inom {swedish_count(late_months, 'månad', 'månader')} efter den dragna månaden")
    return (
        ("Stickprov – röd", "en månad som har passerat saknar stickprov (månaderna namnges), eller ett draget "
                            "ärende är inte granskat fast tiden för granskning har gått ut."),
        ("Stickprov – gul", "alla passerade månader har stickprov, men någon granskning klarmarkerades för sent "
                            f"(granskningen ska klarmarkeras {after}), eller innevarande månad saknar ännu stickprov."),
        ("Stickprov – grön", "alla passerade månader har stickprov och alla granskningar är klarmarkerade i tid "
                             "(eller har ännu tid kvar)."),
        ("Genomgångar – röd", "för ett avslutat år: färre genomförda än målets minimum. För innevarande år: "
                              "genomförda och planerade räcker inte till minimum."),
        ("Genomgångar – gul", "fler än målets maximum, eller ojämnt spridda över året (ett halvår utan "
                              "genomgång, alla i samma kvartal, eller mer än 122 dagar mellan två)."),
        ("Genomgångar – grön", "målet är nått (eller nås med de planerade för innevarande år) och de är spridda "
                               "över året."),
        ("Samlad status", "den sämsta av kontrollmomentens färger. Förvaltningens status är den sämsta av enheternas."),
    )


def worst(*statuses: str) -> str:
    return max(statuses, key=lambda s: _RANK[s]) if statuses else INGEN


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
    """The audit log's head when the summary was made: its last entry and that entry's
    chained hash (``kontroll audit verify`` recomputes the chain up to it)."""

    entry_id: int | None
    occurred: dt.datetime | None
    head_hash: str | None = None


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
    #: the status rules with this installation's deadline for a review (model.status_rules)
    rules: tuple[tuple[str, str], ...] = ()

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


def planner(tolerable: float, per_year_months: int = 12) -> Planner:
    yearly = required_sample_size(tolerable, CONFIDENCE, 0)
    monthly = -(-yearly // per_year_months)
    pct = number(tolerable * 100, 2, trim=True)
    return Planner(tolerable, yearly, monthly,
                   f"För att med 95 % säkerhet kunna säga att felandelen är under {pct} %, om inga avvikelser "
                   f"hittas, behövs {yearly} granskade ärenden per år – {monthly} per månad.")

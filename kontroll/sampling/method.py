"""The draw method for the monthly stickprov: "pcg64-minkey", version 1.

A draw must be re-verifiable years later, on a newer NumPy, by someone who was not there
(docs/architecture.md, invariant 3). NumPy promises stream stability only for a BitGenerator's raw output
(NEP 19), not for ``Generator`` methods such as ``choice``. This method therefore uses
nothing but the raw 64-bit output of PCG64 seeded through SeedSequence:

1. The seed is a 128-bit integer, written as exactly 32 lowercase hex characters. The hex
   string is the seed; ``int(seed_hex, 16)`` is what goes into ``SeedSequence``.
2. The case list is put in canonical order: every reference NFC-normalised, sorted by
   Unicode code point, duplicates refused.
3. Key ``i`` = the ``i``-th raw uint64 of ``PCG64(SeedSequence(int(seed_hex, 16)))``
   belongs to the ``i``-th case in canonical order. Keys are assigned over the FULL list,
   before exclusion, so exclusion and stratification never change another case's key.
4. Excluded cases are removed; the ``n`` smallest keys win (ties by case reference). With
   stratification by team, the sample size is first allocated to teams (at least one each
   when possible, the rest by largest remainder), then each team's smallest keys win.

``docs/draw-method.md`` specifies the method precisely enough to reimplement it elsewhere.
Any change that can alter a selection needs a new ``METHOD_VERSION``, and the old version
must stay implemented so that old draws can still be verified.

Pure Python + NumPy: no Flask, no database.

Why one module of over 500 lines: this file *is* version 1 of the method, the thing a verifier
re-runs years later. Keeping the seed, the canonical order, the keys, the allocation and the
verification together means one file to read, and one file whose history shows every change
that could alter a selection.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

import numpy as np

METHOD_NAME = "pcg64-minkey"
METHOD_VERSION = 1

#: Stratum label for cases without a team (team ``None`` or the empty string). It is part of
#: method version 1 (it names a stratum in the recorded allocation); its one home is
#: kontroll/cases/handlaggare.py.
from kontroll.cases.handlaggare import NO_TEAM  # noqa: E402

SEED_HEX_LENGTH = 32
_SEED_RE = re.compile(r"[0-9a-f]{32}", re.ASCII)
_HEX_ANY_CASE_RE = re.compile(r"[0-9a-fA-F]+", re.ASCII)
# C0 and C1 control characters, DEL. "\n" is excluded here because it is the join
# separator below; a reference containing "\n" is caught by counting separators.
_CONTROL_RE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_C0_BYTES = bytes(range(0x00, 0x0A)) + bytes(range(0x0B, 0x20)) + b"\x7f"
_C1_UTF8_RE = re.compile(rb"\xc2[\x80-\x9f]")  # U+0080..U+009F encoded in UTF-8
_LEXSORT_MAX_WIDTH = 64
_MAX_LISTED = 10  # how many references a verification message names before "… och N till"


# --------------------------------------------------------------------------------------
# Seed


def new_seed() -> str:
    """A fresh 128-bit seed from OS entropy, as 32 lowercase hex characters.

    ``numpy.random.SeedSequence()`` draws its entropy with ``secrets.randbits(128)``;
    that integer, zero-padded to 32 hex digits, is the seed.
    """
    entropy = np.random.SeedSequence().entropy
    value = int(entropy)
    if not 0 <= value < 1 << 128:  # pragma: no cover - guards a NumPy default change
        raise RuntimeError("SeedSequence gave entropy outside 128 bits")
    return f"{value:032x}"


def parse_seed(seed_hex: str) -> int:
    """Validate a seed and return the integer that goes into ``SeedSequence``.

    Only the canonical encoding is accepted: exactly 32 characters ``0-9a-f``. No ``0x``,
    no whitespace, no upper case, no integers: one seed has exactly one written form.
    """
    if not isinstance(seed_hex, str):
        raise ValueError(
            "Fröet måste anges som text med 32 hexadecimala tecken (0–9, a–f), "
            f"inte som {type(seed_hex).__name__}."
        )
    if _SEED_RE.fullmatch(seed_hex):
        return int(seed_hex, 16)
    if len(seed_hex) != SEED_HEX_LENGTH:
        raise ValueError(
            f"Fröet måste vara exakt {SEED_HEX_LENGTH} tecken långt (0–9, a–f), "
            f"men är {len(seed_hex)} tecken."
        )
    if _HEX_ANY_CASE_RE.fullmatch(seed_hex):
        raise ValueError("Fröet ska skrivas med gemener (a–f), inte versaler (A–F).")
    raise ValueError("Fröet får bara innehålla tecknen 0–9 och a–f.")


# --------------------------------------------------------------------------------------
# Canonical order and keys


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _refuse_bad_ref(refs: Sequence[object]) -> None:
    """Slow path: find the first invalid reference and raise a Swedish message for it."""
    for row, ref in enumerate(refs, start=1):
        if not isinstance(ref, str):
            raise ValueError(
                f"Ärendenumret på rad {row} är inte text ({type(ref).__name__})."
            )
        if ref == "":
            raise ValueError(f"Ärendenumret på rad {row} är tomt.")
        if "\n" in ref or _CONTROL_RE.search(ref):
            raise ValueError(
                f"Ärendenumret på rad {row} innehåller ett otillåtet styrtecken "
                "(t.ex. radbrytning eller tabb)."
            )
        try:
            ref.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"Ärendenumret på rad {row} innehåller ogiltiga Unicode-tecken."
            ) from None
    raise AssertionError("no invalid reference found")  # pragma: no cover


@dataclass(frozen=True)
class _Canonical:
    """The case list in canonical order.

    ``sorted_bytes[i]`` is the UTF-8 encoding of the i-th reference in canonical order,
    ``order[i]`` its row index in the input. Sorting UTF-8 bytes equals sorting by code
    point (a property of UTF-8), and is several times faster than sorting Python strings.
    """

    sorted_bytes: np.ndarray
    order: np.ndarray

    def __len__(self) -> int:
        return len(self.order)

    def ref(self, position: int) -> str:
        return bytes(self.sorted_bytes[position]).decode("utf-8")

    def refs(self, positions: Iterable[int] | None = None) -> list[str]:
        if positions is None:
            return [b.decode("utf-8") for b in self.sorted_bytes.tolist()]
        return [self.ref(int(p)) for p in positions]

    def positions_of(self, refs: Iterable[str]) -> np.ndarray:
        """Canonical positions of those of ``refs`` that are in the list (others ignored)."""
        wanted = sorted({_nfc(r).encode("utf-8", "surrogatepass") for r in refs})
        if not wanted or len(self) == 0:
            return np.empty(0, dtype=np.intp)
        # The fixed-width array may truncate a too-long candidate; the exact comparison
        # with the full bytes below rejects such false hits.
        candidates = np.asarray(wanted, dtype=self.sorted_bytes.dtype)
        pos = np.searchsorted(self.sorted_bytes, candidates)
        found = [
            int(p)
            for p, b in zip(pos.tolist(), wanted)
            if p < len(self) and bytes(self.sorted_bytes[p]) == b
        ]
        return np.asarray(sorted(found), dtype=np.intp)


def _canonicalise(refs: Sequence[str]) -> _Canonical:
    n = len(refs)
    if n == 0:
        return _Canonical(np.empty(0, dtype="S1"), np.empty(0, dtype=np.intp))
    # Fast path: validate, normalise and encode the whole list as one "\n"-joined text;
    # on any problem fall back to a row-by-row check that names the offending row.
    try:
        joined = "\n".join(refs)
    except TypeError:
        _refuse_bad_ref(refs)
    # NFC of the joined text equals NFC of each reference: "\n" is a starter
    # (canonical combining class 0) that neither decomposes nor composes with anything,
    # so normalisation never reorders or combines across it.
    joined = _nfc(joined)
    try:
        encoded = joined.encode("utf-8")
    except UnicodeEncodeError:  # unpaired surrogates
        _refuse_bad_ref(refs)
    if (
        encoded.count(b"\n") != n - 1  # a reference contains a line break
        or len(encoded.translate(None, _C0_BYTES)) != len(encoded)
        or (b"\xc2" in encoded and _C1_UTF8_RE.search(encoded))
        or encoded == b""
        or encoded.startswith(b"\n")
        or encoded.endswith(b"\n")
        or b"\n\n" in encoded
    ):
        _refuse_bad_ref(refs)
    parts = encoded.split(b"\n")
    width = max(map(len, parts))
    # No reference contains NUL (refused above), so the NUL padding of the fixed-width
    # array sorts a prefix before its extensions, exactly as code point order requires.
    arr = np.asarray(parts, dtype=f"S{width}")
    if width <= _LEXSORT_MAX_WIDTH:
        # Stable byte-column sort (radix passes on uint8): same order as comparing the
        # padded byte strings, and much faster than comparison sorting of strings.
        columns = arr.view(np.uint8).reshape(n, width)
        order = np.lexsort(columns.T[::-1])
    else:
        order = np.argsort(arr, kind="stable")
    sorted_bytes = arr[order]
    dup = np.flatnonzero(sorted_bytes[1:] == sorted_bytes[:-1])
    if dup.size:
        names = sorted({bytes(sorted_bytes[i]).decode("utf-8") for i in dup.tolist()})
        shown = ", ".join(names[:_MAX_LISTED])
        more = f" … och {len(names) - _MAX_LISTED} till" if len(names) > _MAX_LISTED else ""
        raise ValueError(
            "Ärendelistan innehåller samma ärendenummer mer än en gång "
            f"(efter Unicode-normalisering): {shown}{more}."
        )
    return _Canonical(sorted_bytes, order)


def canonical_order(case_refs: Iterable[str]) -> list[str]:
    """The references NFC-normalised and sorted by Unicode code point; duplicates refused.

    Raises ValueError (Swedish message) for a reference that is not text, is empty,
    contains a control character or an unpaired surrogate, or occurs twice after NFC.
    """
    refs = case_refs if isinstance(case_refs, Sequence) else list(case_refs)
    return _canonicalise(refs).refs()


def case_keys(case_refs_sorted: Sequence[str], seed_hex: str) -> np.ndarray:
    """One raw 64-bit key per case: key ``i`` belongs to the ``i``-th case in canonical order.

    The keys are ``PCG64(SeedSequence(int(seed_hex, 16))).random_raw(N)``. Only the
    length of ``case_refs_sorted`` is used; the caller must pass the canonical order
    (see :func:`canonical_order`).
    """
    return _keys(len(case_refs_sorted), seed_hex)


def _keys(count: int, seed_hex: str) -> np.ndarray:
    seed = parse_seed(seed_hex)
    if count == 0:
        return np.empty(0, dtype=np.uint64)
    bitgen = np.random.PCG64(np.random.SeedSequence(seed))
    keys = np.asarray(bitgen.random_raw(count), dtype=np.uint64)
    return keys


# --------------------------------------------------------------------------------------
# Parameters and result


@dataclass(frozen=True)
class DrawParams:
    """What the drawer chose; recorded with the draw.

    ``exclude_refs``: cases reviewed in the last N months (the caller computes them).
    References not in the case list are ignored.
    """

    sample_size: int
    stratify_by_team: bool = False
    exclude_refs: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if isinstance(self.sample_size, bool) or not isinstance(self.sample_size, int):
            raise ValueError("Stickprovets storlek måste vara ett heltal.")
        if self.sample_size < 1:
            raise ValueError("Stickprovets storlek måste vara minst 1.")
        if not isinstance(self.stratify_by_team, bool):
            raise ValueError("Valet om stratifiering per grupp måste vara ja eller nej.")
        if isinstance(self.exclude_refs, str):
            raise ValueError("Uteslutna ärenden ska anges som en samling ärendenummer.")
        excluded = frozenset(self.exclude_refs)
        for ref in excluded:
            if not isinstance(ref, str):
                raise ValueError("Uteslutna ärenden ska anges som ärendenummer i textform.")
        object.__setattr__(self, "exclude_refs", excluded)


@dataclass(frozen=True)
class DrawResult:
    selected: list[str]  # in selection order: increasing key, ties by case reference
    allocation: dict[str, int] | None  # per stratum (team) when stratified, else None
    method_name: str
    method_version: int
    population_size: int  # cases in the list
    eligible_size: int  # cases left after exclusion


# --------------------------------------------------------------------------------------
# Allocation


def allocate(stratum_sizes: Mapping[str, int], n: int) -> dict[str, int]:
    """Split a sample size over strata (teams). Exact integer arithmetic, no floats.

    - ``n >= total``: every stratum gets all its cases.
    - ``n >= number of strata``: each stratum first gets one; the rest ``r = n - H`` is
      split in proportion to what each stratum has left (``size - 1``) by largest
      remainder (Hamilton): ``floor(r * (size-1) / (N - H))`` each, then one more to the
      strata with the largest remainders, ties by stratum name (code point order).
    - ``n < number of strata``: largest remainder on ``n * size / N`` directly (some
      strata get none).

    Never more than a stratum has: a quota ``q <= cap`` rounds up only when ``q`` is
    fractional, and then ``ceil(q) <= cap`` because ``cap`` is an integer.
    The result lists every stratum (also those given 0) in name order.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError("Stickprovets storlek måste vara ett heltal som är 0 eller större.")
    labels = sorted(stratum_sizes)
    for label in labels:
        size = stratum_sizes[label]
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"Gruppen {label!r} måste ha minst ett ärende.")
    total = sum(stratum_sizes[h] for h in labels)
    if n >= total:
        return {h: stratum_sizes[h] for h in labels}
    strata = len(labels)
    if n >= strata:
        base, rest = 1, n - strata
        weight = {h: stratum_sizes[h] - 1 for h in labels}
        denominator = total - strata  # > rest >= 0 because n < total
    else:
        base, rest = 0, n
        weight = {h: stratum_sizes[h] for h in labels}
        denominator = total
    alloc = {h: base + rest * weight[h] // denominator for h in labels}
    remainder = {h: rest * weight[h] % denominator for h in labels}
    left = n - sum(alloc.values())
    for h in sorted(labels, key=lambda h: (-remainder[h], h))[:left]:
        alloc[h] += 1
    return alloc


# --------------------------------------------------------------------------------------
# Draw and verify


def _case_column(cases: Sequence[tuple[str, str | None]], column: int) -> list:
    try:
        return list(map(itemgetter(column), cases))
    except (TypeError, IndexError, KeyError):
        raise ValueError(
            "Varje rad i ärendelistan måste bestå av ärendenummer och grupp."
        ) from None


def _team_codes(teams: list, canonical: _Canonical) -> tuple[list[str], np.ndarray]:
    """Stratum labels (sorted) and, per canonical position, the index of its label."""
    label_of: dict[object, str] = {}
    try:
        distinct = set(teams)
    except TypeError:
        raise ValueError("Gruppen måste vara text eller saknas.") from None
    for team in distinct:
        if team is None or team == "":
            label_of[team] = NO_TEAM
        elif isinstance(team, str):
            label_of[team] = _nfc(team)
        else:
            raise ValueError(f"Gruppen måste vara text eller saknas, inte {type(team).__name__}.")
    labels = sorted(set(label_of.values()))
    index = {label: i for i, label in enumerate(labels)}
    code_of = {team: index[label] for team, label in label_of.items()}
    codes = np.fromiter(map(code_of.__getitem__, teams), dtype=np.intp, count=len(teams))
    return labels, codes[canonical.order]


def _smallest(keys: np.ndarray, positions: np.ndarray, k: int) -> np.ndarray:
    """Canonical positions of the ``k`` entries with the smallest (key, position).

    ``positions`` must be increasing, so among equal keys the lower position (= the
    smaller case reference) wins.
    """
    m = len(keys)
    if k <= 0:
        return np.empty(0, dtype=np.intp)
    if k >= m:
        return positions
    part = np.argpartition(keys, k - 1)[:k]
    threshold = keys[part].max()
    below = np.flatnonzero(keys < threshold)
    at = np.flatnonzero(keys == threshold)[: k - len(below)]
    return positions[np.concatenate([below, at])]


def draw(cases: Sequence[tuple[str, str | None]], seed_hex: str, params: DrawParams) -> DrawResult:
    """Draw the sample. ``cases`` = (case_ref, team or None), in any order.

    Raises ValueError with a Swedish message for an invalid seed, an invalid or
    duplicated case reference, an empty list, or when every case is excluded.
    """
    if not isinstance(params, DrawParams):
        raise ValueError("Parametrarna för dragningen saknas.")
    parse_seed(seed_hex)  # validate before any heavy work
    if not isinstance(cases, Sequence):  # read twice when stratified
        cases = list(cases)
    canonical = _canonicalise(_case_column(cases, 0))
    population = len(canonical)
    if population == 0:
        raise ValueError("Ärendelistan är tom – det finns inget att dra ur.")

    keys = _keys(population, seed_hex)  # over the FULL canonical list, before exclusion

    eligible_mask = np.ones(population, dtype=bool)
    eligible_mask[canonical.positions_of(params.exclude_refs)] = False
    eligible_pos = np.flatnonzero(eligible_mask)
    eligible = len(eligible_pos)
    if eligible == 0:
        raise ValueError(
            "Alla ärenden i listan är uteslutna (nyligen granskade) – inget ärende kan dras."
        )
    eligible_keys = keys[eligible_pos]

    allocation: dict[str, int] | None = None
    if params.stratify_by_team:
        labels, codes = _team_codes(_case_column(cases, 1), canonical)
        eligible_codes = codes[eligible_pos]
        counts = np.bincount(eligible_codes, minlength=len(labels))
        sizes = {labels[c]: int(counts[c]) for c in range(len(labels)) if counts[c] > 0}
        allocation = allocate(sizes, params.sample_size)
        # group the eligible cases by stratum; the stable sort keeps canonical order
        # inside each group (uint16 codes let NumPy use a radix sort)
        sort_codes = eligible_codes.astype(np.uint16) if len(labels) <= 0xFFFF else eligible_codes
        grouping = np.argsort(sort_codes, kind="stable")
        bounds = np.searchsorted(sort_codes[grouping], np.arange(len(labels) + 1))
        chosen_parts = []
        for c, label in enumerate(labels):
            k = allocation.get(label, 0)
            if k:
                members = grouping[bounds[c] : bounds[c + 1]]
                chosen_parts.append(_smallest(eligible_keys[members], eligible_pos[members], k))
        chosen = np.concatenate(chosen_parts) if chosen_parts else np.empty(0, np.intp)
    else:
        chosen = _smallest(eligible_keys, eligible_pos, params.sample_size)

    # selection order: increasing key, ties by canonical position (= case reference)
    chosen = chosen[np.lexsort((chosen, keys[chosen]))]
    return DrawResult(
        selected=canonical.refs(chosen.tolist()),
        allocation=allocation,
        method_name=METHOD_NAME,
        method_version=METHOD_VERSION,
        population_size=population,
        eligible_size=eligible,
    )


def _list_refs(refs: Sequence[str]) -> str:
    shown = ", ".join(refs[:_MAX_LISTED])
    if len(refs) > _MAX_LISTED:
        shown += f" … och {len(refs) - _MAX_LISTED} till"
    return shown


def verify(
    cases: Sequence[tuple[str, str | None]],
    seed_hex: str,
    params: DrawParams,
    stored_selected: Sequence[str],
    *,
    method_name: str = METHOD_NAME,
    method_version: int = METHOD_VERSION,
) -> tuple[bool, str]:
    """Redo the draw and compare it with the stored selection.

    Returns ``(ok, explanation)``; the explanation is Swedish and says what differs.
    ``ok`` requires the same cases in the same selection order.

    This cannot prove that ``cases`` is the snapshot that was drawn from: a change that
    leaves every selected case's key in place (e.g. a row appended after the last case in
    canonical order) gives the same selection. The caller must first check the snapshot's
    SHA-256 against the one recorded with the draw.
    """
    if method_name != METHOD_NAME or method_version != METHOD_VERSION:
        return False, (
            f"Dragningen gjordes med metoden {method_name} version {method_version}, "
            f"men den här versionen av kontroll kan bara göra om {METHOD_NAME} "
            f"version {METHOD_VERSION}."
        )
    if isinstance(stored_selected, str) or not all(isinstance(r, str) for r in stored_selected):
        return False, "Den sparade dragningens ärendenummer är inte en lista med text."
    try:
        result = draw(cases, seed_hex, params)
    except ValueError as exc:
        return False, f"Dragningen kunde inte göras om: {exc}"

    stored = [_nfc(r) for r in stored_selected]
    redrawn = result.selected
    if stored == redrawn:
        count = len(redrawn)
        noun = "ärende" if count == 1 else "ärenden"
        return True, (
            f"Dragningen stämmer: omräkningen ger samma {count} {noun} i samma ordning "
            f"({METHOD_NAME} version {METHOD_VERSION}, {result.population_size} ärenden i "
            f"listan, {result.eligible_size} valbara)."
        )

    problems: list[str] = []
    if len(set(stored)) != len(stored):
        problems.append("Den sparade dragningen innehåller samma ärende mer än en gång.")
    stored_set, redrawn_set = set(stored), set(redrawn)
    missing = [r for r in redrawn if r not in stored_set]
    extra = [r for r in stored if r not in redrawn_set]
    if missing:
        problems.append(
            "Valda vid omräkningen men saknas i den sparade dragningen: "
            f"{_list_refs(missing)}."
        )
    if extra:
        problems.append(
            "Finns i den sparade dragningen men valdes inte vid omräkningen: "
            f"{_list_refs(extra)}."
        )
    if not missing and not extra and stored_set == redrawn_set and len(stored) == len(redrawn):
        problems.append("Samma ärenden, men i en annan ordning än omräkningen ger.")
    if len(stored) != len(redrawn):
        problems.append(
            f"Den sparade dragningen har {len(stored)} ärenden, omräkningen ger {len(redrawn)}."
        )
    return False, (
        "Dragningen stämmer inte. "
        + " ".join(problems)
        + " Kontrollera att ärendelistan (kontrollsumma), fröet och parametrarna är "
        "desamma som sparades med dragningen."
    )

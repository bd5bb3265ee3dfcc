"""Pages: Mina granskningar, the checklist form, återkoppling, the month's overview, brister
and åtgärder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from kontroll.checklists import services as checklists
from kontroll.checklists.model import ANSWER_LABELS
from kontroll.core import audit
from kontroll.core.actions import (
    Confirm,
    back_to,
    form_action,
    of_unit,
    page_again,
    unit_with,
)
from kontroll.core.errors import ValidationError
from kontroll.core.hooks import NavItem, hooks_of
from kontroll.core.models import RoleAssignment, Unit, User
from kontroll.core.periods import Period, late_after_months, period_label
from kontroll.core.permissions import (
    Job,
    Perm,
    PermissionDenied,
    can,
    can_anywhere,
    job_holders_clause,
    may_hold,
    units_where,
)
from kontroll.core.swedish import count
from kontroll.core.timezone import local_today
from kontroll.core.web import (
    acting_user,
    form_id,
    login_required,
    require_perm,
    unit_or_404,
)
from kontroll.db import get_session
from kontroll.reviews import services as svc
from kontroll.reviews.models import Atgard, Review
from kontroll.sampling.models import DrawnCase

bp = Blueprint("reviews", __name__)


def _template():
    return checklists.stickprov_template(checklists.checklists_directory(current_app.config),
                                          current_app.config.get("STICKPROV_TEMPLATE"))


# --- what the start page shows -------------------------------------------------------------


def start_cards(db: Session, user: User) -> list[tuple[str, dict[str, Any]]]:
    """The reviewer's card (units where they may be chosen to review) and the handläggare's
    card (återkoppling on their own cases)."""
    parts: list[tuple[str, dict[str, Any]]] = []
    units = [u for u in units_where(db, user, Perm.VIEW_REVIEWS) if may_hold(user, Job.REVIEWER, u)]
    if units:
        parts.append(("reviews/_start_review_card.html", {
            "units": units,
            "open": svc.open_count(db, user),
            "genomgangar": any(can(user, Perm.PERFORM_GENOMGANG, u) for u in units),
            "leads_teams": any(may_hold(user, Job.TEAM_LEAD, u) for u in units),
        }))
    if can_anywhere(user, Perm.RECEIVE_FEEDBACK):
        parts.append(("reviews/_start_feedback_card.html", {"count": len(svc.feedback_for_handlaggare(db, user))}))
    return parts


# --- the reviewer ---------------------------------------------------------------------------


def nav_items(db: Session, user: User) -> list[NavItem]:
    """"Mina granskningar" in the top menu while the person has reviews to finish: how many,
    and the earliest day by which one must be klarmarkerad."""
    due = svc.open_reviews_due(db, user, late_after_months(current_app.config))
    if not due:
        return []
    first = min(due)
    return [NavItem("Mina granskningar", url_for("reviews.mine"), "reviews.mine", f"{len(due)} · senast {first.isoformat()}",
                    f"att klarmarkera, den första senast {first.isoformat()}")]


@bp.get("/granskningar")
@login_required
def mine() -> str:
    db = get_session()
    cases = svc.my_cases(db, acting_user())
    if cases:
        audit.record_view(db, acting_user(), "review.list_view", object_type="user", object_id=acting_user().id,
                          unit=None)
    problem = None
    if any(c.review is None for c in cases):
        try:
            checklists.check_unchanged(db, _template())
        except ValidationError as err:
            problem = err.message
    months = late_after_months(current_app.config)
    return render_template("reviews/mine.html", cases=cases, labels=svc.STATE_LABELS, label=period_label,
                           problem=problem, deadline=lambda period: Period.parse(period).deadline(months),
                           today=local_today())


@bp.route("/granskningar/arende/<int:drawn_case_id>", methods=["GET", "POST"])
@login_required
def start(drawn_case_id: int) -> Response:
    """Open the review of a drawn case; the first POST creates it and freezes the template."""
    db = get_session()
    drawn_case = db.get(DrawnCase, drawn_case_id)
    if drawn_case is None:
        abort(404)
    me = acting_user()
    current = drawn_case.current_assignment
    if current is not None:
        review = svc.review_for_assignment(db, current)
        if review is not None and svc.may_view_review(me, review):
            return redirect(url_for("reviews.review", review_id=review.id))
    if not svc.is_current_reviewer(me, drawn_case):
        if can(me, Perm.VIEW_REVIEWS, drawn_case.draw.unit_id):
            raise PermissionDenied("Bara den utsedda granskaren kan granska ärendet.")
        abort(404)
    if request.method == "GET":
        # no state change on GET: the review (and the frozen template version) is created
        # when the reviewer presses the button; only the view itself is logged
        audit.record_view(db, me, "case.view", object_type="case", object_id=drawn_case.case_ref,
                          unit=drawn_case.draw.unit_id)
        return Response(render_template("reviews/start.html", drawn_case=drawn_case, label=period_label,
                                        template=_template()))
    return form_action(lambda db: svc.open_review(db, me, drawn_case, _template()),
                       on_error=back_to(url_for("reviews.mine")),
                       then=lambda opened: url_for("reviews.review", review_id=opened.id))


def _load_review(review_id: int) -> Review:
    review = get_session().get(Review, review_id)
    if review is None:
        abort(404)
    if not svc.may_view_review(acting_user(), review):
        abort(404)
    return review


def _render_review(review: Review, answers: svc.Answers | None = None, error: ValidationError | None = None,
                   status: int = 200) -> Response:
    me = acting_user()
    template = checklists.template_of(review.template_version)
    editable = not review.is_signed and svc.is_current_reviewer(me, review.drawn_case) and \
        review.drawn_case.current_assignment.id == review.assignment_id
    html = render_template(
        "reviews/review.html", review=review, t=template, answers=answers if answers is not None else svc.answers_of(review),
        editable=editable, error=error, item_errors=getattr(error, "item_errors", {}), ANSWER_LABELS=ANSWER_LABELS,
        labels=svc.STATE_LABELS, label=period_label, methods=svc.FEEDBACK_METHODS,
        can_feedback=review.is_signed and review.reviewer_id == me.id, form=request.form if error else {},
        today=local_today(),
    )
    return Response(html, status=status)


@bp.get("/granskningar/<int:review_id>")
@login_required
def review(review_id: int) -> Response:
    loaded = _load_review(review_id)
    audit.record_view(get_session(), acting_user(), "review.view", object_type="review", object_id=loaded.id,
                      unit=loaded.drawn_case.draw.unit_id, details={"case": loaded.drawn_case.case_ref})
    return _render_review(loaded)


@bp.post("/granskningar/<int:review_id>")
@login_required
def answer(review_id: int) -> Response:
    review = _load_review(review_id)
    answers = svc.answers_from_form(checklists.template_of(review.template_version), request.form)
    signing = request.form.get("action") == "klarmarkera"

    def said(saved: Review) -> str:
        if not signing:
            return "Utkastet är sparat. Du kan fortsätta senare."
        n = len(saved.brister)
        return (f"Granskningen av {saved.drawn_case.case_ref} är klarmarkerad. "
                + (f"{count(n, 'brist', 'brister')} registrerades." if n else "Inga brister."))

    back = url_for("reviews.review", review_id=review_id)
    confirm = Confirm(
        title=f"Klarmarkera granskningen av {review.drawn_case.case_ref}?",
        consequences=("En klarmarkerad granskning kan inte ändras. En rättelse blir en ny granskning som visar på den här.",
                      "Varje avvikande svar blir en brist i enhetens lista, och sektionschefen beslutar om åtgärder.",
                      "Du registrerar sedan återkopplingen till handläggaren."),
        button="Ja, klarmarkera granskningen", back=back) if signing else None
    return form_action(
        lambda db: (svc.sign if signing else svc.save_draft)(db, acting_user(), review, answers),
        on_error=page_again(lambda err, status: _render_review(_load_review(review_id), answers, err, status)),
        then=back, done=said, confirm=confirm)


@bp.post("/granskningar/<int:review_id>/aterkoppling")
@login_required
def feedback(review_id: int) -> Response:
    review = _load_review(review_id)
    f = request.form
    return form_action(
        lambda db: svc.record_feedback(db, acting_user(), review, f.get("given_on", ""), f.get("method", ""),
                                       f.get("note", ""), today=local_today()),
        on_error=page_again(lambda err, status: _render_review(_load_review(review_id), error=err, status=status)),
        then=url_for("reviews.review", review_id=review_id) + "#aterkoppling", done="Återkopplingen är registrerad.")


# --- the handläggare ----------------------------------------------------------------------


@bp.get("/aterkoppling")
@login_required
def my_feedback() -> str:
    if not can_anywhere(acting_user(), Perm.RECEIVE_FEEDBACK):
        raise PermissionDenied("Sidan är för handläggare: den visar återkoppling på dina egna ärenden.")
    db, me = get_session(), acting_user()
    reviews = svc.feedback_for_handlaggare(db, me)
    sections = [s for s in (provider(db, me) for provider in hooks_of(db).feedback_sections) if s is not None]
    if reviews or sections:
        audit.record_view(db, me, "feedback.view", object_type="user", object_id=me.id, unit=None)
    return render_template("reviews/my_feedback.html", reviews=reviews, methods=svc.FEEDBACK_METHODS,
                           label=period_label, sections=sections)


# --- the unit -----------------------------------------------------------------------------


@bp.get("/enheter/<code>/granskningar")
@login_required
def overview(code: str) -> str:
    unit = unit_with(code, Perm.VIEW_REVIEWS)
    today = local_today()
    try:
        shown = Period.parse(request.args.get("period") or Period.of(today))
    except ValidationError:
        shown = Period.of(today)
    period = str(shown)
    ov = svc.month_overview(get_session(), unit, period, today, late_after_months(current_app.config))
    if ov.draw is not None:
        audit.record_view(get_session(), acting_user(), "review.overview_view", object_type="period",
                          object_id=period, unit=unit)
    return render_template("reviews/overview.html", unit=unit, ov=ov, period=period, label=period_label,
                           labels=svc.STATE_LABELS, prev=str(shown.previous()),
                           nxt=str(shown.next()) if shown.next() <= Period.of(today) else None)


@bp.get("/enheter/<code>/brister")
@login_required
def brister(code: str) -> Response:
    return _render_brister(unit_or_404(code))


def _render_brister(unit: Unit, error: ValidationError | None = None, status: int = 200) -> Response:
    require_perm(Perm.VIEW_REVIEWS, unit)
    db = get_session()
    area = request.args.get("omrade") or None
    without = request.args.get("utan_atgard") == "1"
    rows = svc.brister_for_unit(db, unit, area, without)
    if rows and request.method == "GET":
        audit.record_view(db, acting_user(), "brist.list_view", object_type="unit", object_id=unit.id, unit=unit)
    can_manage = can(acting_user(), Perm.MANAGE_ATGARDER, unit)
    owners = []
    if can_manage:
        owners = list(db.scalars(
            select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(job_holders_clause(Job.ATGARD_OWNER, unit)).distinct().order_by(User.full_name)
        ))
    html = render_template("reviews/brister.html", unit=unit, rows=rows, areas=svc.areas_in_unit(db, unit), area=area,
                           without=without, can_manage=can_manage, owners=owners, error=error,
                           form=request.form if error else {}, ANSWER_LABELS=ANSWER_LABELS,
                           selected=request.form.getlist("brister") if error else [])
    return Response(html, status=status)


@bp.post("/enheter/<code>/atgarder")
@login_required
def atgard_create(code: str) -> Response:
    unit = unit_with(code, Perm.MANAGE_ATGARDER)
    f = request.form
    ids = [i for i in map(form_id, f.getlist("brister")) if i is not None]
    owner_id = form_id(f.get("owner", ""))
    return form_action(
        lambda db: svc.open_atgard(db, acting_user(), unit, ids, f.get("description", ""),
                                   db.get(User, owner_id) if owner_id is not None else None, f.get("due_date", ""),
                                   today=local_today()),
        on_error=page_again(lambda err, status: _render_brister(unit_or_404(code), err, status)),
        then=lambda atgard: url_for("reviews.atgard_detail", code=unit.code, atgard_id=atgard.id),
        done="Åtgärden är öppnad.")


@bp.get("/enheter/<code>/atgarder")
@login_required
def atgarder(code: str) -> str:
    unit = unit_with(code, Perm.VIEW_REVIEWS)
    db = get_session()
    state = request.args.get("status") or None
    area = request.args.get("omrade") or None
    overdue = request.args.get("forsenade") == "1"
    today = local_today()
    rows = svc.atgarder_for_unit(db, unit, state=state, area=area, overdue=overdue, today=today)
    return render_template("reviews/atgarder.html", unit=unit, rows=rows, areas=svc.areas_in_unit(db, unit),
                           state=state, area=area, overdue=overdue, today=today, labels=svc.ATGARD_LABELS)


def _atgard(unit: Unit, atgard_id: int) -> Atgard:
    return of_unit(Atgard, atgard_id, unit)


def _render_atgard(unit: Unit, atgard: Atgard, error: ValidationError | None = None, status: int = 200) -> Response:
    me = acting_user()
    if not svc.may_see_atgard(me, atgard):
        abort(404)
    can_verify = svc.may_verify_atgard(me, atgard)
    html = render_template(
        "reviews/atgard.html", unit=unit, a=atgard, labels=svc.ATGARD_LABELS, error=error, today=local_today(),
        form=request.form if error else {}, confirmable=svc.confirming_reviews(get_session(), atgard) if can_verify else [],
        can_complete=svc.may_complete_atgard(me, atgard), can_verify=can_verify,
    )
    return Response(html, status=status)


def _atgard_action(code: str, atgard_id: int, action, done: str,  # type: ignore[no-untyped-def]
                   confirm: Callable[[Atgard, str], Confirm] | None = None) -> Response:
    unit = unit_or_404(code)
    atgard = _atgard(unit, atgard_id)
    if not svc.may_see_atgard(acting_user(), atgard):
        abort(404)
    back = url_for("reviews.atgard_detail", code=unit.code, atgard_id=atgard_id)
    return form_action(lambda db: action(db, atgard),
                       on_error=page_again(lambda err, status: _render_atgard(unit, _atgard(unit, atgard_id), err, status)),
                       then=back, done=done, confirm=confirm(atgard, back) if confirm else None)


@bp.get("/enheter/<code>/atgarder/<int:atgard_id>")
@login_required
def atgard_detail(code: str, atgard_id: int) -> Response:
    unit = unit_or_404(code)
    atgard = _atgard(unit, atgard_id)
    if not svc.may_see_atgard(acting_user(), atgard):
        abort(404)
    audit.record_view(get_session(), acting_user(), "atgard.view", object_type="atgard", object_id=atgard.id,
                      unit=unit, details={"cases": sorted({b.case_ref for b in atgard.brister})})
    return _render_atgard(unit, _atgard(unit, atgard_id))


@bp.post("/enheter/<code>/atgarder/<int:atgard_id>/genomford")
@login_required
def atgard_done(code: str, atgard_id: int) -> Response:
    return _atgard_action(code, atgard_id,
                          lambda db, atgard: svc.complete_atgard(db, acting_user(), atgard, request.form.get("done_note", "")),
                          "Åtgärden är markerad som genomförd.")


@bp.post("/enheter/<code>/atgarder/<int:atgard_id>/verifiera")
@login_required
def atgard_verify(code: str, atgard_id: int) -> Response:
    raw = request.form.get("confirming_review", "")

    def verify(db: Session, atgard: Atgard) -> Atgard:
        confirming = db.get(Review, review_id) if (review_id := form_id(raw)) is not None else None
        if raw and confirming is None:
            raise ValidationError("Den valda granskningen finns inte.", "confirming_review")
        return svc.verify_atgard(db, acting_user(), atgard, request.form.get("verified_note", ""), confirming)

    return _atgard_action(code, atgard_id, verify, "Åtgärden är verifierad.", lambda atgard, back: Confirm(
        title="Verifiera åtgärden?",
        consequences=(f"Du intygar att åtgärden ”{atgard.description}” har fungerat.",
                      "En verifierad åtgärd är avslutad och kan inte öppnas igen; brister som kommer igen får en ny åtgärd."),
        button="Ja, verifiera åtgärden", back=back))


def unit_section(db: Session, user: User, unit: Unit) -> tuple[str, dict[str, Any]] | None:
    if not can(user, Perm.VIEW_REVIEWS, unit):
        return None
    today = local_today()
    period = str(Period.of(today))
    months = late_after_months(current_app.config)
    ov = svc.month_overview(db, unit, period, today, months)
    return "reviews/_unit_section.html", {
        "period_label": period_label(period),
        "done": sum(1 for r in ov.rows if r.state == "klar"),
        "total": len(ov.rows),
        "late": len(svc.late_reviews(db, unit, today, months)),
        "overdue": svc.overdue_atgarder(db, unit, today),
    }


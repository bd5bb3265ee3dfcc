"""The features of kontroll and the order in which they plug in: the one place that names them.

``create_app`` registers each feature's pages (blueprints) and command-line groups from here,
and fills the application's hooks (:mod:`kontroll.core.hooks`) in the order listed: the unit
page shows the month's draw, the case lists, the genomgångar and the reviews, in that order.
The scheduled jobs are listed in :mod:`kontroll.jobs` the same way. Dependencies point one way
(reports → genomgang → reviews → sampling → cases → checklists → core); nothing in the core
imports a feature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint

from kontroll.core.hooks import Hooks


def blueprints() -> list[Blueprint]:
    from kontroll.admin.views import bp as admin_bp
    from kontroll.cases.views import api as cases_api
    from kontroll.cases.views import bp as cases_bp
    from kontroll.core.account_views import bp as account_bp
    from kontroll.core.notification_views import bp as notifications_bp
    from kontroll.core.views import bp as core_bp
    from kontroll.genomgang.views import bp as genomgang_bp
    from kontroll.reports.views import bp as reports_bp
    from kontroll.reviews.views import bp as reviews_bp
    from kontroll.sampling.views import bp as sampling_bp

    return [core_bp, account_bp, notifications_bp, admin_bp, cases_bp, cases_api, sampling_bp, reviews_bp, genomgang_bp,
            reports_bp]


def hooks() -> Hooks:
    """The application's hooks, in order."""
    from kontroll.cases.views import unit_section as case_list_section
    from kontroll.checklists import todos as checklists_todos
    from kontroll.core.models import ROLE_LABELS
    from kontroll.genomgang import todos as genomgang_todos
    from kontroll.genomgang.services import RESULT_LABELS
    from kontroll.genomgang.views import feedback_section as genomgang_feedback
    from kontroll.genomgang.views import unit_section as genomgang_section
    from kontroll.reports import todos as reports_todos
    from kontroll.reports import views as reports_views
    from kontroll.reviews import todos as reviews_todos
    from kontroll.reviews import views as reviews_views
    from kontroll.reviews.services import (
        FEEDBACK_METHODS,
        no_new_reviewer_after_signing,
    )
    from kontroll.reviews.views import unit_section as reviews_section
    from kontroll.sampling import todos as sampling_todos
    from kontroll.sampling import views as sampling_views
    from kontroll.sampling.views import unit_section as draw_section

    return Hooks(
        unit_sections=[draw_section, case_list_section, genomgang_section, reviews_section],
        todo_sources=[sampling_todos.todos, reviews_todos.todos, genomgang_todos.todos, checklists_todos.todos,
                      reports_todos.todos],
        start_cards=[sampling_views.start_cards, reviews_views.start_cards, reports_views.start_cards],
        assignment_guards=[no_new_reviewer_after_signing],
        feedback_sections=[genomgang_feedback],
        nav_items=[reviews_views.nav_items],
        audit_values={"method": FEEDBACK_METHODS, "result": RESULT_LABELS,
                      "role": {role.value: label for role, label in ROLE_LABELS.items()}},
    )


def command_groups() -> list[Callable[..., Any]]:
    from kontroll.backup import backup_command, restore_command
    from kontroll.cases.cli import caselist_cli
    from kontroll.checklists.cli import checklists_cli
    from kontroll.cli import audit_cli, db_cli, demo_cli, unit_cli, user_cli
    from kontroll.privacy.cli import privacy_cli
    from kontroll.reports.cli import report_cli
    from kontroll.sampling.cli import draw_cli
    from kontroll.scheduler import scheduler_cli

    return [db_cli, audit_cli, user_cli, unit_cli, demo_cli, caselist_cli, draw_cli, checklists_cli, scheduler_cli,
            report_cli, backup_command, restore_command, privacy_cli]

"""Fault tests: kill or fail things midway and show that nothing is lost or half-written.

Each test runs on SQLite and on PostgreSQL (``KONTROLL_TEST_DB=postgresql``). The processes
that get killed are real ``kontroll`` commands started through :mod:`tests.faults.child`,
which can pause the command at a chosen SQL statement so that the kill lands inside the
transaction deterministically (the pause is test code; production code has no hook).
"""

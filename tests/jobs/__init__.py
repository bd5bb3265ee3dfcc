"""Tests of notifications, the scheduled jobs and the scheduler (fixtures in conftest.py)."""

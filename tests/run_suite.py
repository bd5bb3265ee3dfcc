"""Run the whole test suite: on SQLite (with the browser tests), then on PostgreSQL.

`make test` calls this. Outside CI a missing PostgreSQL server or Chromium is reported and
that part is skipped; under CI=true either one missing is a failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

POSTGRES_URL = os.environ.get(
    "KONTROLL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CHROMIUM = os.environ.get("KONTROLL_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_answers() -> str | None:
    """None when PostgreSQL answers, else the reason."""
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return str(exc).splitlines()[0]


def run(label: str, env_db: str, extra: list[str], pytest_args: list[str]) -> int:
    print(f"\n=== kontroll tests on {label} ===", flush=True)
    env = dict(os.environ, KONTROLL_TEST_DB=env_db)
    return subprocess.call([sys.executable, "-m", "pytest", *extra, *pytest_args], env=env)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args, pytest_args = parser.parse_known_args()
    failures: list[str] = []

    have_browser = shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM)
    if not have_browser:
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if IN_CI:
            print(f"FAIL: {message}", file=sys.stderr)
            failures.append("browser")
        else:
            print(f"WARNING: {message}: browser tests are skipped", file=sys.stderr)

    if args.only in (None, "sqlite"):
        extra = [] if have_browser else ["-m", "not browser"]
        if run("SQLite", "sqlite", extra, pytest_args) != 0:
            failures.append("sqlite")

    if args.only in (None, "postgresql"):
        reason = postgres_answers()
        if reason is not None:
            message = f"PostgreSQL does not answer at {POSTGRES_URL}: {reason}"
            if IN_CI or args.only == "postgresql":
                print(f"FAIL: {message}", file=sys.stderr)
                failures.append("postgresql")
            else:
                print(f"WARNING: {message}: the PostgreSQL pass is skipped", file=sys.stderr)
        elif run("PostgreSQL", "postgresql", ["-m", "not browser"], pytest_args) != 0:
            failures.append("postgresql")

    if failures:
        print(f"\nFAILED: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\nAll test passes succeeded.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

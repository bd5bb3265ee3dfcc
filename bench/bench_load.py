"""Load test: kontroll under gunicorn (4 workers, the README's command) on a fresh PostgreSQL
database with the demo loaded, the scheduler running as its own process, and simulated users
driven from this process over 127.0.0.1: they log in, browse, answer checklists, import case
lists (upload form and JSON API) and draw.

Targets (issue «Produktionsdrift»): no 5xx, no lost writes (every write the driver saw
succeed is in the database afterwards, counted there), p95 under 250 ms for page views.

Usage: python bench/bench_load.py [--users 50] [--seconds 60] [--think 1.0] [--json out.json]

Each simulated user waits ``think`` × U(0.5, 1.5) seconds between steps: 5 s by default (a
person reads the page, picks an answer, writes a comment; real pauses are longer). The users
arrive spread over ``ramp`` seconds (default 20): a login costs about 0.3 s of CPU (argon2id,
64 MiB), so fifty at once would measure a login storm, not page views. ``--think 1 --ramp 5``
is the stress variant that shows the machine's capacity. Figures depend on the machine:
report them with ``nproc``, the load average and the think time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import loadclient as lc  # noqa: E402

TARGET_P95_MS = 250


def measure(users: int, seconds: float, think: float, ramp: float, log_dir: Path | None = None) -> dict[str, Any]:
    """One load run on a database of its own; returns the summary with ``lost_writes``."""
    with lc.postgres_database("kontroll_load") as url, tempfile.TemporaryDirectory() as tmp:
        logs = log_dir or Path(tmp)
        env = lc.service_env(url)
        lc.prepare_database(env)
        plan = lc.setup_load_data(env, users)
        server = scheduler = None
        try:
            port = lc.free_port()
            server = lc.start_gunicorn(env, port, logs)
            scheduler = lc.start_scheduler(env, logs)
            # CPU time spent by the web workers, the database and this driver during the load
            workers = lc.child_pids(server.proc.pid)
            backends = lc.database_backend_pids(url)
            before = {pid: lc.process_cpu_seconds(pid) for pid in workers + backends}
            driver_before = time.process_time()
            recorder = lc.run_load(f"http://127.0.0.1:{port}", plan, seconds, think, ramp=ramp)
            driver_cpu = time.process_time() - driver_before
            after_workers = lc.child_pids(server.proc.pid)
            after_backends = lc.database_backend_pids(url)
            web_cpu = sum(lc.process_cpu_seconds(p) - before.get(p, 0.0) for p in after_workers)
            db_cpu = sum(lc.process_cpu_seconds(p) - before.get(p, 0.0) for p in after_backends)
        finally:
            if scheduler is not None:
                scheduler.stop()
            if server is not None:
                server.stop()
        summary = lc.summarize(recorder)
        summary["lost_writes"] = lc.verify_writes(url, plan, recorder.ledger)
        try:
            summary["audit_verify"] = lc.kontroll(env, "audit", "verify").stdout.strip().splitlines()[0]
        except RuntimeError as exc:
            summary["lost_writes"].append(f"kontroll audit verify failed: {exc}")
        summary["users"] = users
        n = max(1, summary["requests"])
        summary["cpu"] = {
            "web_workers_s": round(web_cpu, 1), "database_s": round(db_cpu, 1), "driver_s": round(driver_cpu, 1),
            "web_ms_per_request": round(1000 * web_cpu / n, 1), "database_ms_per_request": round(1000 * db_cpu / n, 1),
            "workers_restarted": sorted(set(after_workers) ^ set(workers)) != [],
            # what two cores given wholly to gunicorn and PostgreSQL could serve of this mix
            "capacity_2_cores_req_per_s": round(2 / max(1e-9, (web_cpu + db_cpu) / n), 1),
        }
        summary["think_seconds"] = think
        summary["ramp_seconds"] = ramp
        summary["load_average_after"] = os.getloadavg()
        return summary


def verdict(summary: dict[str, Any]) -> dict[str, bool]:
    page = summary["kinds"].get("page", {"p95": float("inf")})
    return {
        "no 5xx": summary["server_errors"] == 0,
        "no lost writes": not summary["lost_writes"],
        "no unexpected answers": not summary["problems"] and summary["no_answer"] == 0,
        f"page p95 < {TARGET_P95_MS} ms": page["p95"] < TARGET_P95_MS,
    }


def run(kinds: list[str], users: int = 50, seconds: float = 60, think: float = 5.0,
        ramp: float = 20.0) -> list[dict[str, object]]:
    """For bench/run.py: PostgreSQL only (the production database)."""
    if "postgresql" not in kinds:
        return []
    s = measure(users, seconds, think, ramp)
    page = s["kinds"].get("page", {})
    label = f"load {users} users {int(seconds)} s (postgresql)"
    return [
        {"benchmark": f"{label}: page p95", "result": f"{page.get('p95')} ms (p50 {page.get('p50')}, "
         f"p99 {page.get('p99')}; {s['requests_per_second']} req/s)", "target": f"< {TARGET_P95_MS} ms",
         "ok": page.get("p95", float("inf")) < TARGET_P95_MS},
        {"benchmark": f"{label}: 5xx", "result": str(s["server_errors"]), "target": "0", "ok": s["server_errors"] == 0},
        {"benchmark": f"{label}: lost writes", "result": str(len(s["lost_writes"])), "target": "0",
         "ok": not s["lost_writes"] and not s["problems"]},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=5.0, help="mean pause between a user's steps (s)")
    parser.add_argument("--ramp", type=float, default=20.0, help="users arrive spread over this many seconds")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--logs", type=Path, help="keep gunicorn's and the scheduler's output here")
    args = parser.parse_args()
    reason = lc.postgres_answers()
    if reason is not None:
        print(f"PostgreSQL does not answer at {lc.POSTGRES_ADMIN_URL}: {reason}", file=sys.stderr)
        return 2
    if args.logs:
        args.logs.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    summary = measure(args.users, args.seconds, args.think, args.ramp, args.logs)
    summary["load_average_before"] = load_before
    print(f"kontroll load test: {args.users} users, {args.seconds:g} s, think {args.think:g} s, ramp {args.ramp:g} s, "
          f"gunicorn {' '.join(lc.GUNICORN_ARGS).format(port='…')}; {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.1f} before, {summary['load_average_after'][0]:.1f} after\n")
    print(lc.format_summary(summary))
    cpu = summary["cpu"]
    print(f"\nCPU during the load: web workers {cpu['web_workers_s']} s ({cpu['web_ms_per_request']} ms/request), "
          f"PostgreSQL {cpu['database_s']} s ({cpu['database_ms_per_request']} ms/request), driver {cpu['driver_s']} s; "
          f"two dedicated cores would serve about {cpu['capacity_2_cores_req_per_s']} req/s of this mix")
    if summary.get("audit_verify"):
        print(f"\naudit verify: {summary['audit_verify']}")
    if summary["lost_writes"]:
        print("\nlost writes:\n  " + "\n  ".join(summary["lost_writes"]))
    print()
    checks = verdict(summary)
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    if args.json:
        args.json.write_text(lc.to_json(summary), encoding="utf-8")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

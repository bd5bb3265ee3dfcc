"""Oversized case lists are refused fast and in little memory (issue «Integritet utan undantag»).

The worst cases of the probe and their relatives, each uploaded through the web form of a
fresh app in a process of its own (so that its peak memory is its own): the file is read
before the baseline is taken; the figure is the growth of the peak RSS during the request.

- ``xlsx-1.1M-rader``: 1.1 million one-cell rows in a small XLSX (the probe's file held a
  request for 172 s and ~600 MB before being refused);
- ``csv-1.5M-rader``: a 60 MB CSV with 1.5 million lines;
- ``xlsx-3M-textvarden``: a shared-string table of 3 million entries;
- ``xlsx-breda-rader``: 300,000 rows of 50 cells, most of them empty (15 million cells).

Target: each refused in under 5 s with at most +150 MB. Usage:
python bench/bench_import_bounds.py
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_SECONDS = 5.0
TARGET_MB = 150
HEADER = ["Ärendenummer", "Handläggare"]


def make(case: str) -> bytes:
    from tests.support.xlsx import write_xlsx

    if case == "xlsx-1.1M-rader":
        return write_xlsx([HEADER] + [[i] for i in range(1_100_000)])
    if case == "csv-1.5M-rader":
        return ("Ärendenummer;Handläggare\r\n" + "".join(f"EB-{i:08d};Handläggare {i % 600:03d}\r\n"
                                                          for i in range(1_500_000))).encode()
    if case == "xlsx-3M-textvarden":
        return write_xlsx([HEADER, ["EB-1", "A"]], shared_strings=[f"t{i}" for i in range(3_000_000)])
    if case == "xlsx-breda-rader":
        return write_xlsx([HEADER + [f"k{i}" for i in range(48)]] + [[f"EB-{i}", "A"] + [None] * 48
                                                                     for i in range(300_000)])
    raise ValueError(case)


CASES = ("xlsx-1.1M-rader", "csv-1.5M-rader", "xlsx-3M-textvarden", "xlsx-breda-rader")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def start_peak() -> float:
    """Reset the process's peak RSS (Linux: clear_refs 5) and return the current RSS in MB, so
    that the peak read afterwards is the peak of what came after."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS") / 1024


def peak_mb() -> float:
    return _status_kb("VmHWM") / 1024


def child(path: str) -> dict[str, object]:
    """Upload the file through the web form of a fresh app on SQLite; report the answer."""
    from kontroll import create_app
    from kontroll.core import users as user_svc
    from kontroll.core.models import Role
    from kontroll.db import get_database
    from kontroll.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        upgrade(url)
        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "PASSWORD_HASH_PROFILE": "fast",
                          "SESSION_COOKIE_SECURE": False})
        with app.app_context(), get_database(app).session_scope() as session:
            unit = user_svc.create_unit(session, "bench", code="BENCH", name="Bench")
            user = user_svc.create_user(session, "bench", username="bench", full_name="Bench Bänk",
                                        password="ett-bra-losenord-for-bench")
            user_svc.add_role(session, "bench", user, Role.FORSTE_SOCIALSEKRETERARE, unit)
        client = app.test_client()
        import re

        page = client.get("/logga-in").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post("/logga-in", data={"username": "bench", "password": "ett-bra-losenord-for-bench",
                                       "csrf_token": token})
        page = client.get("/enheter/BENCH/arendelistor/ny").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        data = Path(path).read_bytes()
        suffix = ".xlsx" if data[:2] == b"PK" else ".csv"
        before = start_peak()
        start = time.perf_counter()
        response = client.post("/enheter/BENCH/arendelistor/ny", content_type="multipart/form-data",
                               data={"csrf_token": token, "fil": (io.BytesIO(data), "lista" + suffix)})
        seconds = time.perf_counter() - start
        get_database(app).engine.dispose()
    return {"status": response.status_code, "seconds": seconds, "grew_mb": peak_mb() - before,
            "megabytes": len(data) / 1e6}


def run(kinds: list[str] | None = None) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            path = Path(tmp) / case
            path.write_bytes(make(case))
            out = subprocess.run([sys.executable, __file__, "--child", str(path)], check=True,
                                 capture_output=True, text=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            ok = r["status"] == 422 and r["seconds"] < TARGET_SECONDS and r["grew_mb"] <= TARGET_MB
            rows.append({"benchmark": f"refuse {case} ({r['megabytes']:.1f} MB)",
                         "result": f"{r['status']} in {r['seconds']:.2f} s, +{r['grew_mb']:.0f} MB",
                         "target": f"422 < {TARGET_SECONDS:g} s, +{TARGET_MB} MB", "ok": ok})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    for row in run():
        print(row)


if __name__ == "__main__":
    main()

"""Benchmark 3: the quick-pay search by contract number and by address under load.

    .venv/bin/python bench/quickpay_load.py [--engine pg|sqlite|both] [--quick] [--keep]

Ours: the real search ``POST /pay/find`` (QUICKPAY_FIND) when the server has the quick-pay
page, otherwise the stand-in ``GET /bench/lookup`` (bench/quickpay_app.py: the same lookups
through the ORM inside the product's middleware). Baseline: ``/lookup`` of
bench/baseline_app.py, the same SQL on the raw driver. Samples are real contracts of the
dataset (10% unknown numbers); the address search uses each contract's town, street, house
and apartment. ``POST /pay/find`` counts 30 searches per client address per 10 minutes, so
every request line carries its own ``X-Forwarded-For`` (uvicorn trusts it from 127.0.0.1);
errors (non-2xx answers) must stay 0 for a result to count.
Targets as for the cabinet: ≥ 70% (PostgreSQL) / 60% (SQLite) of the baseline's req/s,
p95 ≤ 1.5×.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    SCALES,
    Request,
    Server,
    dataset,
    interleaved,
    machine,
    ok,
    query,
    table,
)

#: The product's quick-pay search (cabinet/quickpay.py): a form POST with Litestar's CSRF.
QUICKPAY_PAGE = "/pay"
QUICKPAY_FIND = "/pay/find"
OURS = "bench.quickpay_app:create_app"
BASELINE = "bench.baseline_app:create_app"
TARGET_RPS = {"pg": 0.70, "sqlite": 0.60}
TARGET_P95 = 1.5
SAMPLES = 2000

SAMPLE_SQL = """
    SELECT s.contract_number, st.town, st.name, a.house, a.apartment
    FROM subscriber s JOIN address a ON a.id = s.address JOIN street st ON st.id = a.street
    WHERE s.id % {step} = 0 ORDER BY s.id LIMIT {limit}"""


def _ip(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def real_form(url: str) -> tuple[str, str] | None:
    """(csrf cookie, csrf token) when the server has the quick-pay page, else None."""
    import httpx

    response = httpx.get(url + QUICKPAY_PAGE + "/", timeout=30)
    if response.status_code != 200 or f'action="{QUICKPAY_FIND}"' not in response.text:
        return None
    token = re.search(r'name="_csrf_token" value="([^"]+)"', response.text)
    cookie = response.cookies.get("centra_csrf")
    return (cookie, token.group(1)) if token and cookie else None


#: Request lines per search kind: each has a client address of its own, so that random picks
#: over a whole run (tens of thousands of requests) stay under the per-address limit of
#: ``POST /pay/find``; a 429 would be a cheap answer and flatter the product.
LINES = 60_000


def requests_for(kind: str, samples: list[tuple], *, ours: bool,
                 form: tuple[str, str] | None) -> list[Request]:
    out = []
    offset = LINES if kind == "address" else 0
    for line in range(LINES):
        i = line % len(samples)
        number, town, street, house, apartment = samples[i]
        ip = _ip(offset + line)
        if kind == "contract":
            fields = {"contract": number if i % 10 else str(900000 + i)}
        else:
            fields = {"town": str(town), "street": street, "house": house, "apartment": apartment}
        if ours and form:
            cookie, token = form
            names = {"contract": "contract_number"}
            body = {names.get(k, k): v for k, v in fields.items()}
            body.update({"_csrf_token": token, "by": "number" if kind == "contract" else "address"})
            out.append(Request("POST", QUICKPAY_FIND, urlencode(body), {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"centra_csrf={cookie}", "X-Forwarded-For": ip}))
        else:
            path = "/bench/lookup" if ours else "/lookup"
            out.append(Request("GET", f"{path}?{urlencode(fields)}", headers={"X-Forwarded-For": ip}))
    return out


def run(engine: str, scale: str, args: argparse.Namespace) -> list[list]:
    subscribers, months = SCALES[scale][engine]
    rows = []
    with dataset(engine, subscribers, months, keep=args.keep) as data:
        print(f"\n{data.label}", flush=True)
        samples = query(data, SAMPLE_SQL.format(step=max(1, subscribers // SAMPLES), limit=SAMPLES))
        with Server(OURS, data.env) as ours, Server(BASELINE, data.env) as base:
            form = real_form(ours.url)
            target = f"POST {QUICKPAY_FIND}" if form else "GET /bench/lookup (stand-in)"
            for kind in ("contract", "address"):
                result = interleaved({
                    "baseline": (base.url, requests_for(kind, samples, ours=False, form=None)),
                    "ours": (ours.url, requests_for(kind, samples, ours=True, form=form)),
                }, rounds=args.rounds, seconds=args.seconds, connections=args.connections)
                b, o = result["baseline"], result["ours"]
                rps_ratio, p95_ratio = o.rps / b.rps, o.p95 / b.p95
                rows.append([engine, kind, "baseline /lookup", f"{b.rps:,.0f}", f"{b.p50:.1f}",
                             f"{b.p95:.1f}", f"{b.p99:.1f}", b.errors, "", "", ""])
                rows.append([engine, kind, target, f"{o.rps:,.0f}", f"{o.p50:.1f}", f"{o.p95:.1f}",
                             f"{o.p99:.1f}", o.errors, f"{rps_ratio:.0%}", f"{p95_ratio:.2f}×",
                             ok(rps_ratio >= TARGET_RPS[engine] and p95_ratio <= TARGET_P95
                                                and o.errors == 0)])
                print(table(HEADERS, rows[-2:]), flush=True)
    return rows


HEADERS = ["engine", "search", "server", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
           "ours/base req/s", "p95 ours/base", "target met"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    scale = "quick" if args.quick else "full"
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (4.0 if args.quick else 10.0)
    engines = ["pg", "sqlite"] if args.engine == "both" else [args.engine]
    print(f"quickpay_load: {machine()}; wrk -t1 -c{args.connections}, {args.rounds} rounds × "
          f"{args.seconds:.0f} s, medians", flush=True)
    rows = []
    for engine in engines:
        rows += run(engine, scale, args)
    print("\n## Benchmark 3: quick-pay search under load\n")
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()

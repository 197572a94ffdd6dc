"""Benchmark 3: the quick-pay search by contract number and by address under load.

    .venv/bin/python bench/quickpay_load.py [--engine pg|sqlite|both] [--quick] [--keep]

Ours: the product's search ``POST /pay/find`` (a form with Litestar's CSRF token). Baseline:
``/lookup`` of bench/baseline_app.py, the same SQL on the raw driver. For reference, the same
server's ``POST /bench/find-floor`` (bench/quickpay_floor.py) runs the same form, limit, search
and ticket but answers with a minimal page: what the stack costs without the page; and the
baseline's ``/lookup-page`` answers its search with the product's own quick-pay template
(the same bytes): what the page costs without the stack. The target is judged against
``/lookup`` only; the last column is for comparison. Samples
are real contracts of the dataset (10% unknown numbers); the address search uses each
contract's town, street, house and apartment. ``POST /pay/find`` counts 30 searches per
client address per 10 minutes, so every request line carries its own ``X-Forwarded-For``
(uvicorn trusts it from 127.0.0.1);
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
#: The product's app plus the same search answered with a minimal page (bench/quickpay_floor.py).
OURS = "bench.quickpay_floor:create_app"
FLOOR = "/bench/find-floor"
BASELINE = "bench.baseline_app:create_app"
LOOKUP = "/lookup"
#: The baseline's same search answered with the product's own quick-pay template (a reference).
LOOKUP_PAGE = "/lookup-page"
TARGET_RPS = {"pg": 0.70, "sqlite": 0.60}
TARGET_P95 = 1.5
SAMPLES = 2000

SAMPLE_SQL = """
    SELECT s.contract_number, st.town, st.name, a.house, a.apartment
    FROM subscriber s JOIN address a ON a.id = s.address JOIN street st ON st.id = a.street
    WHERE s.id % {step} = 0 ORDER BY s.id LIMIT {limit}"""


def _ip(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def real_form(url: str) -> tuple[str, str]:
    """(csrf cookie, csrf token) of the quick-pay page, as a browser gets them."""
    import httpx

    response = httpx.get(url + QUICKPAY_PAGE + "/", timeout=30)
    token = re.search(r'name="_csrf_token" value="([^"]+)"', response.text)
    cookie = response.cookies.get("centra_csrf")
    if response.status_code != 200 or not token or not cookie:
        raise SystemExit(f"no quick-pay form at {url}{QUICKPAY_PAGE}/ ({response.status_code})")
    return cookie, token.group(1)


#: Request lines per search kind: each has a client address of its own, so that random picks
#: over a whole run (tens of thousands of requests) stay under the per-address limit of
#: ``POST /pay/find``; a 429 would be a cheap answer and flatter the product.
LINES = 60_000


def requests_for(kind: str, samples: list[tuple], *, form: tuple[str, str] | None,
                 path: str = QUICKPAY_FIND, lookup: str = LOOKUP) -> list[Request]:
    """The product's form posts to ``path`` when ``form`` is given, else the baseline's GETs
    of ``lookup``."""
    out = []
    # Client addresses of their own per search kind and per route (both routes count them).
    offset = (LINES if kind == "address" else 0) + (2 * LINES if path != QUICKPAY_FIND else 0)
    for line in range(LINES):
        i = line % len(samples)
        number, town, street, house, apartment = samples[i]
        ip = _ip(offset + line)
        if kind == "contract":
            fields = {"contract": number if i % 10 else str(900000 + i)}
        else:
            fields = {"town": str(town), "street": street, "house": house, "apartment": apartment}
        if form:
            cookie, token = form
            names = {"contract": "contract_number"}
            body = {names.get(k, k): v for k, v in fields.items()}
            body.update({"_csrf_token": token, "by": "number" if kind == "contract" else "address"})
            out.append(Request("POST", path, urlencode(body), {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"centra_csrf={cookie}", "X-Forwarded-For": ip}))
        else:
            out.append(Request("GET", f"{lookup}?{urlencode(fields)}", headers={"X-Forwarded-For": ip}))
    return out


def run(engine: str, scale: str, args: argparse.Namespace) -> list[list]:
    subscribers, months = SCALES[scale][engine]
    rows = []
    with dataset(engine, subscribers, months, keep=args.keep) as data:
        print(f"\n{data.label}", flush=True)
        samples = query(data, SAMPLE_SQL.format(step=max(1, subscribers // SAMPLES), limit=SAMPLES))
        with Server(OURS, data.env, workers=args.workers) as ours, \
                Server(BASELINE, data.env, workers=args.workers) as base:
            form = real_form(ours.url)
            target = f"POST {QUICKPAY_FIND}"
            for kind in ("contract", "address"):
                result = interleaved({
                    "baseline": (base.url, requests_for(kind, samples, form=None)),
                    "page-base": (base.url, requests_for(kind, samples, form=None, lookup=LOOKUP_PAGE)),
                    "floor": (ours.url, requests_for(kind, samples, form=form, path=FLOOR)),
                    "ours": (ours.url, requests_for(kind, samples, form=form)),
                }, rounds=args.rounds, seconds=args.seconds, connections=args.connections)
                b, t = result["baseline"], result["page-base"]
                rows.append([engine, kind, f"baseline {LOOKUP}", f"{b.rps:,.0f}", f"{b.p50:.1f}",
                             f"{b.p95:.1f}", f"{b.p99:.1f}", b.errors, "", "", "", ""])
                for name, label in (("page-base", f"baseline {LOOKUP_PAGE} (same page)"),
                                    ("floor", f"POST {FLOOR} (no page)"), ("ours", target)):
                    o = result[name]
                    rps_ratio, p95_ratio = o.rps / b.rps, o.p95 / b.p95
                    met = (rps_ratio >= TARGET_RPS[engine] and p95_ratio <= TARGET_P95
                           and o.errors == 0)
                    same_page = (f"{o.rps / t.rps:.0%}, p95 {o.p95 / t.p95:.2f}×"
                                 if name == "ours" else "")
                    rows.append([engine, kind, label, f"{o.rps:,.0f}", f"{o.p50:.1f}",
                                 f"{o.p95:.1f}", f"{o.p99:.1f}", o.errors, f"{rps_ratio:.0%}",
                                 f"{p95_ratio:.2f}×", ok(met) if name == "ours" else "(reference)",
                                 same_page])
                print(table(HEADERS, rows[-4:]), flush=True)
    return rows


HEADERS = ["engine", "search", "server", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
           "ours/base req/s", "p95 ours/base", "target met", "ours/same-page base"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["pg", "sqlite", "both"], default="both")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn workers, for the product and the baseline alike")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    scale = "quick" if args.quick else "full"
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (4.0 if args.quick else 10.0)
    engines = ["pg", "sqlite"] if args.engine == "both" else [args.engine]
    print(f"quickpay_load: {machine()}; wrk -t1 -c{args.connections}, {args.rounds} rounds × "
          f"{args.seconds:.0f} s, medians, {args.workers} worker(s) each", flush=True)
    rows = []
    for engine in engines:
        rows += run(engine, scale, args)
    print("\n## Benchmark 3: quick-pay search under load\n")
    print(table(HEADERS, rows))


if __name__ == "__main__":
    main()

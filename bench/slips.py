"""Benchmark: a batch of payment slips built as one PDF (issue 30; web/slip_pdf.py).

    PYTHONPATH=. .venv/bin/python bench/slips.py [--slips 1000] [--quick]

Each case runs in a fresh Python process, as the batch does in production (a worker process of
``anyio.to_process``), and reports its wall time and peak memory (``ru_maxrss``):

- ``import``: the worker's start — WeasyPrint imported, one slip laid out (the floor of memory);
- ``qr``: only the QR codes of the batch (qrcode, all eight masks tried, PNG);
- ``layout``: the same document with one QR code drawn once and repeated (WeasyPrint alone);
- ``batch``: the real thing — ``render_pdf(slips)``, what ``/office/slips.pdf`` sends.

Ratios are against ``layout`` of the same run; CPU seconds (the process's user + system time)
are shown beside wall time because a loaded machine stretches the latter. The database part
(``street_slips``: one read of the street, one fee read per contract) is not in it. The PDF is
then read back: its page count, and the QR codes of its first and last pages decoded by zbar
(as tests/support/pdf.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "var" / "bench-slips.pdf"


def slips(count: int) -> list:
    from settings import get_settings
    from tables.month import Month
    from tables.payments.slip import build_slip

    settings = get_settings()
    return [build_slip(contract=str(100001 + i), name="Щукина Ю. Э.", month=Month(2026, 12),
                       address=f"Новокузнецк, проспект Металлургов, д. {12 + i // 200}, "
                               f"кв. {i % 200 + 1}",
                       settings=settings, balance=-(i * 137 % 50_000), fee=750_00,
                       amount=750_00 + i * 137 % 50_000) for i in range(count)]


def child(mode: str, count: int) -> None:
    started = time.perf_counter()
    if mode == "import":
        from web.slip_pdf import render_pdf

        render_pdf(slips(1), "x")
    elif mode == "qr":
        for slip in slips(count):
            slip.qr_png_uri()
    elif mode == "layout":
        from weasyprint import HTML

        from web.slip_pdf import slips_html

        batch = slips(count)
        code = batch[0].qr_png_uri()

        class DrawnOnce:  # every slip with the first one's code: WeasyPrint's share of the batch
            def __init__(self, slip):
                self.__dict__.update(slip.__dict__)

            def qr_png_uri(self) -> str:
                return code

        HTML(string=slips_html([DrawnOnce(s) for s in batch], title="x")).write_pdf()
    elif mode == "batch":
        from web.slip_pdf import render_pdf

        OUT.parent.mkdir(exist_ok=True)
        OUT.write_bytes(render_pdf(slips(count), "Квитанции за декабрь 2026"))
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime,
                      "rss_mb": usage.ru_maxrss / 1024}))


def run(mode: str, count: int) -> dict:
    answer = subprocess.run([sys.executable, __file__, "--child", mode, "--slips", str(count)],
                            capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(answer.stdout.strip().splitlines()[-1])


def read_back(count: int) -> str:
    import pypdfium2
    from pyzbar.pyzbar import decode

    from tables.payments.slip import parse_st00012

    document = pypdfium2.PdfDocument(OUT.read_bytes())
    pages = len(document)
    numbers = []
    for index in (0, pages - 1):
        image = document[index].render(scale=3).to_pil().convert("L")
        numbers.append(parse_st00012(decode(image)[0].data.decode("utf-8"))["PersAcc"])
    document.close()
    expected = [str(100001), str(100001 + count - 1)]
    verdict = "ok" if numbers == expected else "WRONG"
    return f"{pages} pages, first/last codes name contracts {numbers} ({verdict})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slips", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 slips")
    parser.add_argument("--child")
    args = parser.parse_args()
    count = 100 if args.quick else args.slips
    if args.child:
        child(args.child, count)
        return
    results = {mode: run(mode, count) for mode in ("import", "layout", "qr", "batch")}
    base = results["layout"]["cpu"]
    print(f"{count} slips as one PDF (each case a fresh process; ratios of CPU time against 'layout')")
    print(f"{'case':<8} {'wall, s':>8} {'CPU, s':>7} {'× layout':>9} {'CPU/slip, ms':>13} "
          f"{'peak RSS, MB':>13}")
    for mode, r in results.items():
        per = r["cpu"] / (1 if mode == "import" else count) * 1000
        print(f"{mode:<8} {r['seconds']:>8.1f} {r['cpu']:>7.1f} {r['cpu'] / base:>9.2f} {per:>13.1f} "
              f"{r['rss_mb']:>13.0f}")
    print(f"PDF: {OUT.stat().st_size / 1e6:.1f} MB; {read_back(count)}")


if __name__ == "__main__":
    main()

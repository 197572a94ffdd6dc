"""A background job's progress as staff see it, for every page that starts long work (the
reports' exports, the office's bank statements): the context of the template
``jobs/progress.html`` (status, a ``<progress>`` bar) and ``jobs/refresh.html`` (the page reloads
itself every 2 s until the job is over: polling, no script)."""

from __future__ import annotations

from typing import Any

from tables.background import FINAL, JOB_STATUS_LABELS


def job_progress(job: dict[str, Any] | None, *, unit: str = "строк", label: str = "Ход выгрузки"
                 ) -> dict[str, Any]:
    """The template context for ``job`` (``None``: nothing running, nothing to refresh).

    :param unit: what is counted, in the genitive plural («строк», «документов»).
    """
    if job is None:
        return {"job": None, "job_final": True}
    total, done = job["total"], job["progress"] or 0
    percent = min(100, round(100 * done / total)) if total else (100 if job["status"] == "done" else 0)
    return {"job": job, "job_status": JOB_STATUS_LABELS[job["status"]], "job_percent": percent,
            "job_final": job["status"] in FINAL, "job_unit": unit, "job_label": label}

"""A broadcast's messages queued by a job: the office's page returns at once and shows progress.

``start_broadcast`` (the office's confirmation) records the broadcast, its audit entry and its
:class:`tables.background.BackgroundJob` in one transaction and defers ``broadcasts.queue``;
the task queues the segment's messages in batches (``tables.broadcasts.queue_broadcast_messages``),
counting contracts into the job's progress (``jobs.exports.JobProgress``, and the page fragment
``jobs/progress.html``, as the exports and the bank statements). A failure is written on the
job's row by the worker's middleware; the task is idempotent (one message per broadcast and
contract), so a retry completes it.
"""

from __future__ import annotations

import procrastinate

from jobs.engine import app, engine_ref
from jobs.exports import JobProgress
from settings import get_settings
from tables.audit import Actor
from tables.broadcasts import Broadcast, BroadcastKind, Segment

BROADCAST_TASK = "broadcasts.queue"
BROADCAST_RETRY = procrastinate.RetryStrategy(max_attempts=3, exponential_wait=5)


async def start_broadcast(segment: Segment, text: str, kind: BroadcastKind | str, *,
                          actor: Actor) -> Broadcast:
    """Record the broadcast (audited) and queue the job that queues its messages."""
    from tables.broadcasts import create_broadcast

    broadcast = await create_broadcast(segment, text, kind, actor=actor, job_task=BROADCAST_TASK,
                                       job_arguments={"segment": segment.as_dict()})
    # Long work a person started runs on the exports' queue (as ``jobs.exports.retry`` defers it).
    await queue_broadcast.configure(queue=get_settings().export_queue).defer_async(
        job_id=broadcast.job, broadcast_id=broadcast.id, segment=segment.as_dict())
    return broadcast


@app.task(name=BROADCAST_TASK, queue="exports", retry=BROADCAST_RETRY, pass_context=True)
async def queue_broadcast(context: procrastinate.JobContext, job_id: int, broadcast_id: int,
                          segment: dict) -> dict[str, int]:
    """Queue one broadcast's messages, with progress in contracts gone through."""
    from tables.background import finish_job, mark_running, set_progress
    from tables.broadcasts import queue_broadcast_messages, segment_size

    chosen = Segment(**segment)
    await mark_running(job_id, engine_ref=engine_ref(context.job.id), attempt=context.job.attempts + 1)
    total = await segment_size(chosen)
    await set_progress(job_id, 0, total)
    progress = JobProgress(job_id, total)
    messages = await queue_broadcast_messages(broadcast_id, chosen, progress=progress.add)
    await set_progress(job_id, progress.done, progress.done)
    await finish_job(job_id)
    return {"contracts": progress.done, "messages": messages}

"""Staff pages for broadcasts (/office/broadcasts): a segment and a text, a preview of who and
what, a confirmation, then the broadcast's page (/office/broadcasts/<id>): the job queueing its
messages (progress bar) and the messages' progress, reloading itself every 2 s until done. The
rules live in ``tables.broadcasts``, the job in ``jobs.broadcasts``."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from backoffice.jobs import job_progress
from backoffice.office_pages import (
    OfficeDenied,
    actor_of,
    denied,
    form_fields,
    login_required,
    office_guard,
    office_page,
    require_action,
)
from jobs.broadcasts import start_broadcast
from tables.addresses import Town
from tables.background import get_job
from tables.broadcasts import (
    BROADCAST_KIND_LABELS,
    STAT_LABELS,
    Broadcast,
    BroadcastKind,
    broadcast_stats,
    check_text,
    parse_segment,
    preview_broadcast,
    recent_broadcasts,
)
from tables.send_rate import gateway_rate
from tables.tariffs import Tariff


async def _form(request: Request, *, fields: dict, error: str = "", preview=None,
                status_code: int = 200) -> Template:
    towns = await Town.select(Town.id, Town.name).order_by(Town.name)
    tariffs = await Tariff.select(Tariff.id, Tariff.name).where(Tariff.active == True).order_by(  # noqa: E712
        Tariff.name)
    return office_page(request, "broadcasts", status_code=status_code, fields=fields, error=error,
                       preview=preview, towns=towns, tariffs=tariffs,
                       kinds=BROADCAST_KIND_LABELS, stat_labels=STAT_LABELS,
                       broadcasts=await recent_broadcasts(), sms_rate=gateway_rate("sms"))


def _kind(fields: dict) -> BroadcastKind:
    value = fields.get("kind", "")
    if value not in BROADCAST_KIND_LABELS:
        raise ValueError("Выберите вид рассылки")
    return BroadcastKind(value)


class BroadcastController(Controller):
    path = "/office/broadcasts"
    guards = [office_guard]
    cache_control = CacheControlHeader(no_store=True)
    exception_handlers = {NotAuthorizedException: login_required, OfficeDenied: denied}

    @get("/", name="office:broadcasts")
    async def show(self, request: Request) -> Template:
        require_action(request, "broadcast")
        return await _form(request, fields={"kind": "notice"})

    @post("/")
    async def check(self, request: Request) -> Template:
        require_action(request, "broadcast")
        fields = await form_fields(request)
        try:
            preview = await preview_broadcast(parse_segment(fields), fields.get("text", ""),
                                              _kind(fields))
        except ValueError as exc:
            return await _form(request, fields=fields, error=str(exc), status_code=422)
        return await _form(request, fields={**fields, "text": check_text(fields["text"])},
                           preview=preview)

    @post("/confirm")
    async def send(self, request: Request) -> Template | Redirect:
        require_action(request, "broadcast")
        fields = await form_fields(request)
        try:
            broadcast = await start_broadcast(parse_segment(fields), fields.get("text", ""),
                                              _kind(fields), actor=actor_of(request))
        except ValueError as exc:
            return await _form(request, fields=fields, error=str(exc), status_code=422)
        return Redirect(f"/office/broadcasts/{broadcast.id}", status_code=303)

    @get("/{broadcast_id:int}", name="office:broadcast")
    async def progress(self, request: Request, broadcast_id: FromPath[int]) -> Template:
        """One broadcast: its messages being queued (the job's progress), then sent and delivered;
        the page reloads itself every 2 s until nothing is left to happen."""
        require_action(request, "broadcast")
        broadcast = await Broadcast.select().where(Broadcast.id == broadcast_id).first()
        if broadcast is None:
            raise NotFoundException(detail="Рассылка не найдена")
        job = await get_job(broadcast["job"]) if broadcast["job"] else None
        stats = await broadcast_stats(broadcast_id)
        progress = job_progress(job, unit="договоров", label="Постановка сообщений в очередь")
        return office_page(request, "broadcast", broadcast=broadcast, stats=stats, stat_labels=STAT_LABELS,
                           kind_label=BROADCAST_KIND_LABELS.get(broadcast["kind"], broadcast["kind"]),
                           done=progress["job_final"] and not stats["queued"], sms_rate=gateway_rate("sms"),
                           **progress)

"""Public content pages: tariffs, news with maintenance notices, rating the cabinet.

Handlers only parse, call one ``tables.*`` function and render.  A subscriber
logged in to the cabinet is recognised by ``scope["subscriber_id"]`` (set by the
cabinet's auth middleware); without it the visitor is anonymous.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.exceptions import NotFoundException, TooManyRequestsException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from cabinet.auth import PasswordChangeRequired
from cabinet.forms import form_fields
from cabinet.limits import RATING_PER_IP, client_ip, reserve
from cabinet.public import active_tariffs
from tables.calendar import utcnow
from tables.content import NEWS_KIND_LABELS, news_page, published_news_item
from tables.ratings import MAX_COMMENT_LENGTH, RATING_LABELS, current_rating, rate_cabinet
from tables.subscribers import Subscriber
from tables.tariffs import TARIFF_KIND_LABELS

# Anonymous ratings per client IP (cabinet/limits.py); logged-in subscribers are limited by
# the one-rating-per-month rule instead.
ANONYMOUS_RATINGS_PER_HOUR = RATING_PER_IP.max_hits


def subscriber_id_of(request: Request) -> int | None:
    value = request.scope.get("subscriber_id")  # type: ignore[call-overload]
    return value if isinstance(value, int) else None


async def _must_change_password(request: Request, subscriber_id: int) -> bool:
    subscriber = request.scope.get("subscriber")  # type: ignore[call-overload]
    if subscriber is None:
        subscriber = await Subscriber.objects().where(Subscriber.id == subscriber_id).first()
    return bool(subscriber and subscriber.must_change_password)


def _page_number(raw: str | None) -> int:
    """``?page=`` as a positive int; anything unreadable means the first page.

    Absurdly long numbers are simply past the last page (a 404), never parsed in full.
    """
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit():
        return 1
    return max(1, int(text[:12]))


def _record_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise NotFoundException()
    return int(raw)


class ContentController(Controller):
    @get("/tariffs", name="tariffs")
    async def tariffs(self) -> Template:
        return Template("public/tariffs.html",
                        context={"tariffs": await active_tariffs(), "kind_labels": TARIFF_KIND_LABELS})

    @get("/news", name="news")
    async def news(self, request: Request) -> Template:
        page = await news_page(_page_number(request.query_params.get("page")), now=utcnow())
        if page is None:
            raise NotFoundException()
        return Template("public/news.html", context={"news": page, "kind_labels": NEWS_KIND_LABELS})

    @get("/news/{news_id:str}", name="news_item")
    async def news_item(self, news_id: FromPath[str]) -> Template:
        item = await published_news_item(_record_id(news_id), now=utcnow())
        if item is None:
            raise NotFoundException()
        return Template("public/news_item.html", context={"item": item, "kind_labels": NEWS_KIND_LABELS})

    @get("/rate", name="rate")
    async def rate_form(self, request: Request) -> Template:
        return await _rate_page(request)

    @post("/rate", name="rate_post")
    async def rate(self, request: Request) -> Template | Redirect:
        subscriber_id = subscriber_id_of(request)
        attempt = None
        if subscriber_id is None:
            # Counted before storing, given back for bad input (cabinet/limits.py).
            attempt = await reserve(RATING_PER_IP, client_ip(request))
            if not attempt.allowed:
                raise TooManyRequestsException()
        elif await _must_change_password(request, subscriber_id):
            # Like every cabinet action: nothing before a one-time password is replaced.
            raise PasswordChangeRequired()
        score = comment = None
        try:
            form = await form_fields(request, text=("score", "comment"))
            score, comment = form.get("score"), form.get("comment")
            await rate_cabinet(score, comment, subscriber_id=subscriber_id, now=utcnow())
        except ValueError as error:
            if attempt is not None:
                await attempt.release()
            return await _rate_page(request, error=str(error), score=score, comment=comment,
                                    status_code=400)
        return Redirect("/rate/thanks", status_code=303)

    @get("/rate/thanks", name="rate_thanks")
    async def rate_thanks(self) -> Template:
        return Template("public/rate_thanks.html")


async def _rate_page(request: Request, *, error: str | None = None, score: Any = None,
                     comment: Any = None, status_code: int = 200) -> Template:
    subscriber_id = subscriber_id_of(request)
    previous = await current_rating(subscriber_id, now=utcnow()) if subscriber_id else None
    return Template(
        "public/rate.html",
        context={
            "levels": RATING_LABELS,
            "max_comment": MAX_COMMENT_LENGTH,
            "error": error,
            "score": str(score) if score is not None else "",
            "comment": comment if isinstance(comment, str) else "",
            "previous": previous,
            "logged_in": subscriber_id is not None,
        },
        status_code=status_code,
    )

"""The unsubscribe link of news mail (``List-Unsubscribe``): a page with one button, no login.

The link carries the contract signed with the site's key (``tables.notifications``); the button
posts the page's form (with its CSRF token) and switches news off (``unsubscribe_from_news``).
"""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.params import FromPath
from litestar.response import Template

from tables.notifications import subscriber_of_unsubscribe_token, unsubscribe_from_news

NOT_OURS = ("Ссылка для отписки не распознана: возможно, она скопирована не полностью. "
            "Отписаться можно и в личном кабинете: Профиль → Уведомления.")


def _page(token: str, *, done: bool = False, error: str = "", status_code: int = 200) -> Template:
    return Template("public/unsubscribe.html", status_code=status_code,
                    context={"token": token, "done": done, "error": error})


class UnsubscribeController(Controller):
    path = "/unsubscribe"

    @get("/{token:str}", name="unsubscribe")
    async def show(self, token: FromPath[str]) -> Template:
        if subscriber_of_unsubscribe_token(token) is None:
            return _page("", error=NOT_OURS, status_code=404)
        return _page(token)

    @post("/{token:str}")
    async def unsubscribe(self, token: FromPath[str]) -> Template:
        if not await unsubscribe_from_news(token):
            return _page("", error=NOT_OURS, status_code=404)
        return _page(token, done=True)

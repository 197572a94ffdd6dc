"""``/payments/agents/<code>``: the check/pay endpoint of payment agents and terminals.

One endpoint per agent configured in ``CENTRA_PAYMENT_AGENTS`` (settings.PaymentAgent), GET with
the query string or POST with a form, as agents send either. Excluded from CSRF (guarded by the
agent's signature and/or address list instead). Every answer is the protocol's XML, with HTTP 200
— agents read the result code, not the status — except an unknown agent (404) and a refused
request (403, result 300). The protocol itself lives in ``tables.payments.agents``.
"""

from __future__ import annotations

import logging

from litestar import Request, Response, route
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from settings import get_settings
from tables.payments.agents import AgentAnswer, AgentResult, agent_allows, agent_check, agent_pay
from tables.text import clean_text

log = logging.getLogger("centra.payments.agents")

#: Longest parameter value read; the protocol's values are short (txn_id, account, sum, date).
MAX_VALUE = 200

XML = "text/xml; charset=utf-8"


async def _params(request: Request) -> dict[str, str]:
    items = list(request.query_params.items())
    if request.method == "POST":
        form = await request.form()
        items += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    # Without NUL and other control characters, as every form of the site (tables.text).
    return {clean_text(str(k)): clean_text(str(v))[:MAX_VALUE] for k, v in items}


@route("/payments/agents/{agent:str}", http_method=["GET", "POST"], name="payments:agent")
async def agent_endpoint(request: Request, agent: FromPath[str]) -> Response:
    """Answer ``command=check`` or ``command=pay`` for the agent named in the path."""
    config = get_settings().payment_agents.get(agent)
    if config is None:
        raise NotFoundException()
    params = await _params(request)
    txn_id = params.get("txn_id", "")[:64]
    client = request.client.host if request.client else None
    if not agent_allows(params, client, secret=config.secret.get_secret_value(),
                        allowed_ips=config.allowed_ips):
        log.warning("agent %s: refused request from %s (signature or address)", agent, client)
        answer = AgentAnswer(AgentResult.OTHER, txn_id, "Доступ запрещён")
        return Response(answer.xml(), status_code=403, media_type=XML)
    command = params.get("command", "")
    if command == "check":
        answer = await agent_check(agent, params)
    elif command == "pay":
        try:
            answer = await agent_pay(agent, config.name, params)
        except Exception:
            # Nothing was booked (the transaction rolled back): the agent repeats the same txn_id.
            log.exception("agent %s: pay %s failed", agent, txn_id)
            answer = AgentAnswer(AgentResult.TEMPORARY, txn_id)
    else:
        answer = AgentAnswer(AgentResult.OTHER, txn_id, "Неизвестная команда: ожидается check или pay")
    return Response(answer.xml(), status_code=200, media_type=XML)

"""Ids in cabinet paths beyond what the database holds: bad input, never a server error."""

from __future__ import annotations

import pytest

from tests.support.factories import make_subscriber
from tests.support.helpers import csrf_from, sign_in

HUGE = ["99999999999999999999", str(2**31), str(2**63)]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("path", ["/cabinet/pay/{}", "/cabinet/pay/result/{}", "/cabinet/requests/{}",
                                  "/cabinet/requests/{}/statement"])
async def test_huge_id_in_a_page_path(client, path, value):
    s = await make_subscriber()
    await sign_in(client, s.id)
    response = await client.get(path.format(value))
    assert response.status_code in (400, 404), response.status_code
    assert "<html" in response.text.lower()


@pytest.mark.parametrize("path", ["/cabinet/pay/{}/card", "/cabinet/requests/{}/message",
                                  "/cabinet/requests/{}/cancel"])
async def test_huge_id_in_a_form_path(client, path):
    s = await make_subscriber()
    await sign_in(client, s.id)
    token = csrf_from((await client.get("/cabinet/requests/new")).text)
    response = await client.post(path.format(HUGE[0]), data={"_csrf_token": token, "text": "x",
                                                             "token": "tok_x"})
    assert response.status_code in (400, 404), response.status_code

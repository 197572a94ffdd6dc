"""Every admin form field is labelled in Russian (Piccolo Admin prints the JSON schema's ``title``)."""

from __future__ import annotations

import re

from backoffice.forms import FORMS
from tests.support.helpers import admin_login, make_staff

CYRILLIC = re.compile(r"[А-Яа-яЁё]")


async def test_every_form_field_has_a_russian_title(client):
    await make_staff(superuser=True)
    await admin_login(client)
    listing = await client.get("/admin/api/forms/")
    assert listing.status_code == 200, listing.text
    slugs = [form["slug"] for form in listing.json()]
    assert len(slugs) == len(FORMS)  # every form is walked, none hidden from the superuser
    untitled = []
    for slug in slugs:
        response = await client.get(f"/admin/api/forms/{slug}/schema/")
        assert response.status_code == 200, (slug, response.text)
        properties = response.json()["properties"]
        assert properties, slug
        untitled += [f"{slug}.{name}: {prop.get('title')!r}" for name, prop in properties.items()
                     if not CYRILLIC.search(prop.get("title") or "")]
    assert not untitled, untitled

"""What Piccolo Admin's own screens need beyond its API (docs/architecture.md, "Admin").

Piccolo Admin 1.14's single-page app names tables by their identifiers ("ledger entry",
``tableName.split("_")``), keeps a few English strings out of its translations ("The form has
errors.", True/False selects, "field - …" error lines), and shows times in the zone kept in the
browser's storage, UTC unless a clerk changes it. None of this is reachable from its Python
configuration, so ``localise`` serves a patched copy of the built bundle: each replacement is
an exact string of the pinned version and must match as often as expected, or the admin refuses
to start (a new piccolo-admin must be checked, not silently half-translated). Everything else
(column titles, roubles, local times in lists, readable links, Russian refusals) is done on the
server, in ``backoffice.crud.AdminCRUD``.

The same function makes the sidebar role-aware: the table and form lists the app asks for are
cut to what the staff member's role may open (``backoffice.roles``), and refusals raised as
exceptions (forms, FastAPI's own body checks) reach the screen as Russian text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi.exceptions import RequestValidationError
from piccolo.table import Table
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backoffice.crud import CARD_URL, russian_answer, table_titles
from backoffice.labels import column_title
from backoffice.validation import russian_message
from tables.calendar import LOCAL_TZ_NAME
from tables.csvfile import FORMULA_START, PLAIN_NUMBER
from tables.staff_logins import MAX_FAILED_LOGINS

#: What the admin's login screen says when a login fails (tables/staff_logins.py locks accounts).
LOGIN_FAILED_RU = ("Не удалось войти: неверное имя пользователя или пароль. После "
                   f"{MAX_FAILED_LOGINS} неверных попыток вход блокируется на 15 минут.")

BUNDLE_DIR = Path(__import__("piccolo_admin").__file__).parent / "dist" / "assets"
PATCH_PATH = "centra"

# (exact text, replacement, how many times it must occur) in the built bundle.
BUNDLE_PATCHES: list[tuple[str, str, int]] = [
    # List headers: a listed column with no form field (the row number) has a title of its own.
    ("e.schema.properties[m]?e.schema.properties[m].title:m)",
     "e.schema.properties[m]?e.schema.properties[m].title:((e.schema.extra.column_titles||{})[m]||m))",
     1),
    # Field errors: the server puts the field's Russian name into the message itself.
    ("${o.loc[o.loc.length-1]} field - ${o.msg}", "${o.msg}", 1),
    ("Database error: ${e.db_error}", "Ошибка базы данных: ${e.db_error}", 1),
    ('"The form has errors."', '"Форма не сохранена: исправьте ошибки."', 3),
    ('"Successfully saved row"', '"Изменения сохранены."', 1),
    ('U0("Error",-1)', 'U0("Ошибка",-1)', 1),
    ('"Successfully submitted form"', '"Готово."', 1),
    ('"Successfully added row"', '"Запись добавлена."', 1),
    ('"Successfully deleted rows"', '"Записи удалены."', 1),
    ('"Successfully deleted row"', '"Запись удалена."', 2),
    ('"Unable to delete the row."', '"Не удалось удалить запись."', 1),
    ("Unable to delete row ${", "Не удалось удалить запись ${", 1),
    ('"Are you sure you want to delete this row?"', '"Удалить эту запись?"', 1),
    ("Are you sure you want to delete row ${e}?", "Удалить запись ${e}?", 1),
    ('"Are you sure you want to delete the selected rows?"',
     '"Удалить выбранные записи?"', 1),
    ('"Are you sure you want to logout?"', '"Выйти из админки?"', 1),
    # Every failed login shows this literal, whatever the server answers (a lock included).
    ('contents:"Problem logging in"', f"contents:{json.dumps(LOGIN_FAILED_RU, ensure_ascii=False)}", 1),
    ("Problem fetching ${o} rows.",
     "Не удалось открыть таблицу «${window.centraTitle(o)}».", 1),
    ("label:`${c} per page`", "label:`${c} на странице`", 1),
    ('"of "+M0(e.pageCount)', '"из "+M0(e.pageCount)', 1),
    ('value:"true"}," True "', 'value:"true"}," Да "', 1),
    ('value:"false"}," False "', 'value:"false"}," Нет "', 1),
    ('value:"null"}," Null "', 'value:"null"}," Не задано "', 2),
    ('value:"all"}," All "', 'value:"all"}," Все "', 2),
]

# Cells that name a contract link to its card in the office (``schema.extra.card_links``,
# backoffice.crud.card_links; ``window.centraCard`` gives the address or null): a link to a
# subscriber opens the card instead of the subscriber's edit page, a plain cell (a request's
# contract number, an audit entry's object) becomes a link, and the subscriber list's own
# number keeps its edit link with the card beside it. Built as Vue's compiler builds
# ``v-if``/``v-else`` (keyed blocks), so the list redraws them like its own cells.
_FK_CELL_LINK = ('z0(p,{to:{name:"editRow",params:{tableName:e.getTableName(g),rowID:m[g]}}},'
                 '{default:J0(()=>[U0(M0(m[g+"_readable"]),1)]),_:2},1032,["to"])')
_CARD = "window.centraCard(e.schema,g,m)"
_ADD_ROW = ('z0(p,{to:{name:"addRow",params:{tableName:e.tableName}},class:"button",onClick:t[1]||'
            '(t[1]=B0(m=>e.showAddRow=!0,["prevent"]))},{default:J0(()=>[z0(a,{icon:"plus"}),'
            't0("span",null,M0(e.$t("Add Row")),1)]),_:1},8,["to"])')
BUNDLE_PATCHES += [
    (f'e.isForeignKey(g)&&m[g]!==null?(Z(),p0("span",__,[{_FK_CELL_LINK}])):',
     f'e.isForeignKey(g)&&m[g]!==null?(Z(),p0("span",__,[{_CARD}?(Z(),p0("a",{{key:0,href:{_CARD}}},'
     f'M0(m[g+"_readable"]),9,["href"])):(Z(),R0(p,{{key:1,'
     + _FK_CELL_LINK.removeprefix("z0(p,{") + ")])):",
     1),
    ('g==e.linkColumnName?(Z(),p0("span",S_,[z0(p,{to:{name:"editRow",params:{tableName:e.tableName,'
     'rowID:m[e.pkName]}}},{default:J0(()=>[U0(M0(m[g]),1)]),_:2},1032,["to"])])):',
     'g==e.linkColumnName?(Z(),p0("span",S_,[z0(p,{to:{name:"editRow",params:{tableName:e.tableName,'
     'rowID:m[e.pkName]}}},{default:J0(()=>[U0(M0(m[g]),1)]),_:2},1032,["to"]),'
     f'{_CARD}?(Z(),p0("a",{{key:0,class:"centra-card",href:{_CARD},'
     '"aria-label":"Карточка договора "+m[g]},"карточка",8,["href","aria-label"])):h0("",!0)])):',
     1),
    (':(Z(),p0("span",D_,M0(e.abbreviate(m[g])),1))]))),128))',
     f':(Z(),p0("span",D_,[{_CARD}?(Z(),p0("a",{{key:0,href:{_CARD}}},M0(e.abbreviate(m[g])),9,'
     '["href"])):(Z(),p0(W0,{key:1},[U0(M0(e.abbreviate(m[g])),1)],64))]))]))),128))',
     1),
    # «Добавить строку» only where the role may add a row (``schema.extra.can_add``): not on
    # read-only tables, nor on subscribers (contracts come from the office's new contract page).
    (_ADD_ROW, '(e.schema&&e.schema.extra&&e.schema.extra.can_add)?(Z(),R0(p,{key:"centra-add",'
     + _ADD_ROW.removeprefix("z0(p,{") + '):h0("",!0)', 1),
]

# Its "Export CSV" is built in the browser from the table API (``Object.values(row)``, quoted,
# no guard): each cell goes through the formula guard of every CSV the system writes
# (tables.csvfile.safe_text), the same rule in JS from the same constants.
CSV_CELL = """Object.values(j).map(H=>`"${d(String(H),'"','""')}"`)"""
CSV_GUARD = (f"(s=>{json.dumps(list(FORMULA_START))}.includes(s.charAt(0))"
             f"&&!/{PLAIN_NUMBER}/.test(s)?\"'\"+s:s)")
SAFE_CSV_CELL = CSV_CELL.replace("d(String(H),", f"d({CSV_GUARD}(String(H)),")
BUNDLE_PATCHES.append((CSV_CELL, SAFE_CSV_CELL, 1))


def _bundle_file() -> Path:
    bundles = sorted(BUNDLE_DIR.glob("index-*.js"))
    if len(bundles) != 1:
        raise RuntimeError(f"expected one Piccolo Admin bundle in {BUNDLE_DIR}, found {bundles}")
    return bundles[0]


#: Where the app turns a table's identifier into its name: ``<expr>.split("_").join(" ")``.
SPLIT_NAME = '.split("_").join(" ")'
SPLIT_NAME_USES = 3
_IDENTIFIER = re.compile(r"[\w$.]+$")


def patched_bundle(source: str) -> str:
    for old, new, expected in BUNDLE_PATCHES:
        count = source.count(old)
        if count != expected:
            raise RuntimeError(
                f"Piccolo Admin's bundle changed: {old!r} occurs {count} times, not {expected} "
                "(backoffice/ui.py patches the pinned piccolo-admin's built assets)")
        source = source.replace(old, new)
    parts = source.split(SPLIT_NAME)
    if len(parts) - 1 != SPLIT_NAME_USES:
        raise RuntimeError(f"Piccolo Admin's bundle changed: {SPLIT_NAME!r} occurs {len(parts) - 1} "
                           f"times, not {SPLIT_NAME_USES} (backoffice/ui.py)")
    out = [parts[0]]
    for part in parts[1:]:
        head = out[-1]
        expr = _IDENTIFIER.search(head[-80:])
        assert expr is not None, "a table name is split from an expression (backoffice/ui.py)"
        out[-1] = head[: len(head) - len(expr.group())] + f"window.centraTitle({expr.group()})"
        out.append(part)
    return "".join(out)


_HELPER_JS = """
window.centraTitle = function (name) {
  return window.centraTitles[name] || String(name).split('_').join(' ');
};
// The card of the contract a listed cell names, or null (schema.extra.card_links: the row
// field whose text starts with the contract number, and the row values it applies to).
window.centraCard = function (schema, column, row) {
  var links = (schema && schema.extra && schema.extra.card_links) || {};
  var link = links[column];
  if (!link || !row) { return null; }
  var when = link['if'] || {};
  for (var key in when) {
    if (row[key] !== when[key]) { return null; }
  }
  var text = row[link.from] === null || row[link.from] === undefined ? '' : String(row[link.from]);
  var number = /^[0-9]+(?= |$)/.exec(text);
  return number ? window.centraCardUrl + encodeURIComponent(number[0]) : null;
};
// Names are written as they are meant: no Title Case of Russian names.
document.head.insertAdjacentHTML('beforeend', '<style>h1, div.sidebar ul li, li a, '
  + 'ul.related_tables li span.table, select { text-transform: none !important; }'
  + ' a.centra-card { margin-left: 0.75em; font-size: 0.85em; }'
  + ' #centra-refusal { position: fixed; top: 4rem; left: 50%; transform: translateX(-50%);'
  + ' z-index: 1000; max-width: 40rem; padding: 0.75rem 1rem; background: #fdecea;'
  + ' color: #611a15; border: 1px solid #f5c2c0; border-radius: 4px; }</style>');
// A page the staff member may not open (a table of another role, reached by its address)
// is refused by the server in Russian; the admin's page would stay blank, so the refusal
// is shown here. Refused saves are shown by the admin's own forms.
(function () {
  function show(text) {
    var box = document.getElementById('centra-refusal');
    if (!box) {
      box = document.createElement('div');
      box.id = 'centra-refusal';
      box.setAttribute('role', 'alert');
      document.body.appendChild(box);
    }
    box.textContent = text;
  }
  window.addEventListener('hashchange', function () {
    var box = document.getElementById('centra-refusal');
    if (box) { box.remove(); }
  });
  var open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url) {
    if (String(method).toUpperCase() === 'GET') {
      this.addEventListener('load', function () {
        var text = typeof this.responseText === 'string' ? this.responseText : '';
        if ((this.status === 403 || this.status === 404) && /[А-Яа-яЁё]/.test(text)
            && text.charAt(0) !== '{') {
          show(text);
        }
      });
    }
    return open.apply(this, arguments);
  };
})();
"""


def helper_script(titles: dict[str, str]) -> str:
    return (
        f"window.centraTitles = {json.dumps(titles, ensure_ascii=False)};\n"
        f"window.centraCardUrl = {json.dumps(CARD_URL)};\n"
        # Times are shown and typed in the provider's zone, whatever a browser kept before.
        f"localStorage.setItem('defaultTimezone', {json.dumps(LOCAL_TZ_NAME)});\n"
        + _HELPER_JS
    )


def patched_index(template: str, bundle_name: str) -> str:
    page = template.replace('<html lang="en">', '<html lang="ru">')
    page = page.replace("<title>Piccolo Admin</title>", "<title>Centra — офис</title>")
    old = f'<script type="module" crossorigin src="./assets/{bundle_name}"></script>'
    if old not in page:
        raise RuntimeError("Piccolo Admin's index.html changed (backoffice/ui.py)")
    new = (f'<script src="./{PATCH_PATH}/admin.js"></script>\n  '
           f'<script type="module" crossorigin src="./{PATCH_PATH}/{bundle_name}"></script>')
    return page.replace(old, new)


# --- Russian refusals for what FastAPI and piccolo_admin raise ---------------------------------
_TABLE_IN_PATH = re.compile(r"/tables/([a-z_0-9]+)/")


def _validation_handler(tables: dict[str, type[Table]]) -> Any:
    async def handle(request: Request, exc: RequestValidationError) -> Response:
        match = _TABLE_IN_PATH.search(request.url.path)
        table = tables.get(match.group(1)) if match else None
        columns = {c._meta.name: c for c in table._meta.columns} if table else {}
        lines = []
        for error in exc.errors():
            name = str(error["loc"][-1]) if error.get("loc") else ""
            title = column_title(columns[name]) if name in columns else name
            message = russian_message(dict(error))
            lines.append(f"{title}: {message}" if title else message)
        return PlainTextResponse("\n".join(lines) or "Некорректные данные.", status_code=422)

    return handle


async def _http_exception(request: Request, exc: HTTPException) -> Response:
    return russian_answer(PlainTextResponse(str(exc.detail), status_code=exc.status_code))


# --- the sidebar: only what the role may open --------------------------------------------------
_MENU = re.compile(r"/api/(tables|forms|links)/(grouped/)?$")


class RoleMenu:
    """Cuts the admin's table and form lists and its sidebar links to the role's
    (``TABLE_MATRIX``/``FORM_MATRIX``/``SIDEBAR_LINKS``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _MENU.search(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = b""

        async def capture(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                body += message.get("body", b"")

        await self.app(scope, receive, capture)
        assert start is not None
        if start["status"] == 200:
            body = json.dumps(await _allowed(scope, match.group(1), json.loads(body)),
                              ensure_ascii=False).encode()
            start = {**start, "headers": [(k, v) for k, v in start["headers"]
                                          if k.lower() != b"content-length"]
                     + [(b"content-length", str(len(body)).encode())]}
        await send(start)
        await send({"type": "http.response.body", "body": body})


async def _allowed(scope: Scope, kind: str, data: Any) -> Any:
    from backoffice.roles import FORM_MATRIX, R, mfa_missing, sidebar_links, table_allows
    from tables.staff import Role, role_of

    user = getattr(scope.get("user"), "user", None)
    role = await role_of(user) if user is not None else None
    if kind == "links":
        allowed = sidebar_links(role) if role is not None and not await mfa_missing(role, user) else {}
        return {name: url for name, url in data.items() if allowed.get(name) == url}
    if role is None or await mfa_missing(role, user):
        shown = set()
    elif kind == "tables":
        shown = {name for name in _names(data) if table_allows(name, role, R)}
    else:
        shown = {form["name"] for form in _forms(data)
                 if role in FORM_MATRIX.get(form["name"], {Role.ADMINISTRATOR})}

    def keep(item: Any) -> bool:
        return (item if kind == "tables" else item["name"]) in shown

    if isinstance(data, list):
        return [i for i in data if keep(i)]
    grouped = {g: [i for i in items if keep(i)] for g, items in data.get("grouped", {}).items()}
    return {**data, "grouped": {g: items for g, items in grouped.items() if items},
            "ungrouped": [i for i in data.get("ungrouped", []) if keep(i)]}


def _names(data: Any) -> list[str]:
    if isinstance(data, list):
        return list(data)
    return [n for items in data.get("grouped", {}).values() for n in items] + list(data.get("ungrouped", []))


def _forms(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return list(data)
    return [f for items in data.get("grouped", {}).values() for f in items] + list(data.get("ungrouped", []))


def localise(admin: Any, tables: list[type[Table]]) -> Any:
    """Patch the built admin app in place (see the module doc); returns it."""
    titles = table_titles(tables)
    bundle = _bundle_file()
    script = helper_script(titles).encode()
    patched = patched_bundle(bundle.read_text(encoding="utf-8")).encode()
    admin.template = patched_index(admin.template, bundle.name)

    files = {"admin.js": script, bundle.name: patched}

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        # Litestar's mount hands the admin paths with a trailing slash.
        name = scope["path"].rstrip("/").rpartition("/")[2]
        body = files.get(name)
        response = (Response(body, media_type="text/javascript; charset=utf-8",
                             headers={"Cache-Control": "no-cache"})
                    if body is not None else PlainTextResponse("Не найдено.", status_code=404))
        await response(scope, receive, send)

    admin.router.routes.insert(0, Mount(f"/{PATCH_PATH}", app=serve))

    private = next(r.app for r in admin.router.routes if isinstance(r, Mount) and r.path == "/api")
    private_app = private.app  # AuthenticationMiddleware(private_app)
    by_name = {t._meta.tablename: t for t in tables}
    private_app.add_exception_handler(RequestValidationError, _validation_handler(by_name))
    private_app.add_exception_handler(HTTPException, _http_exception)
    private_app.add_middleware(RoleMenu)
    return admin

"""Swagger UI and ReDoc come from our own origin: no CDN, no inline script, assets that answer."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser

PAGES = ("/stripe/fastapi/stripe/docs", "/stripe/fastapi/stripe/redoc")
STATIC = "/stripe/fastapi/stripe/static/docs"
TYPES = {
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}


class Refs(HTMLParser):
    """Every URL a page loads (script src, link href, img src) and any inline script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            if a.get("src"):
                self.urls.append(a["src"] or "")
            else:
                self._in_script = True
        if tag in ("link", "img") and (a.get("href") or a.get("src")):
            self.urls.append(a.get("href") or a.get("src") or "")
        if tag == "style" or "style" in a or any(k.startswith("on") for k in a):
            self.inline.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("script")


def _refs(text: str) -> Refs:
    parser = Refs()
    parser.feed(text)
    return parser


async def test_docs_pages_load_everything_from_our_origin(client):
    for page in PAGES:
        r = await client.get(page)
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert "://" not in r.text  # no absolute URL at all: nothing from a CDN
        refs = _refs(r.text)
        assert refs.inline == [], refs.inline  # a CSP without 'unsafe-inline' scripts runs the page
        assert refs.urls, page
        for url in refs.urls:
            assert url.startswith(f"{STATIC}/"), url  # our origin, under the mount
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"] == TYPES[url[url.rindex(".") :]], url
            assert asset.headers["x-content-type-options"] == "nosniff"
        csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
        assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no CDN
        assert csp["connect-src"] == "'self'" and csp["default-src"] == "'none'"


async def test_swagger_and_redoc_assets_are_the_real_tools(client):
    swagger = await client.get(f"{STATIC}/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in swagger.text and len(swagger.content) > 500_000
    redoc = await client.get(f"{STATIC}/redoc.standalone.js")
    assert "Redoc" in redoc.text and len(redoc.content) > 500_000
    init = await client.get(f"{STATIC}/swagger-init.js")
    assert "data-openapi-url" in init.text and "dom_id: '#swagger-ui'" in init.text


async def test_docs_assets_compress_and_revalidate(client):
    url = f"{STATIC}/swagger-ui.css"
    plain = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    zipped = await client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # httpx decodes it: the same file
    assert int(zipped.headers["content-length"]) < len(gzip.compress(plain.content)) * 1.1
    assert zipped.headers["cache-control"] == "no-cache"
    again = await client.get(url, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304


async def test_unknown_docs_assets_are_a_404_envelope(client):
    for name in ("nope.js", "..%2Fapp.py", "core.py", "static"):
        r = await client.get(f"{STATIC}/{name}")
        assert r.status_code == 404, name
        assert r.json()["code"] == "NOT_FOUND"


async def test_docs_routes_stay_out_of_the_schema(client):
    paths = (await client.get("/stripe/fastapi/stripe/openapi.json")).json()["paths"]
    assert not [p for p in paths if re.search(r"docs|redoc|static", p)]

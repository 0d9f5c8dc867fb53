"""Browser frontends on other origins: CORS for the listed origins only (RENTAN_CORS_ORIGINS), tried with real
preflight requests and in headless Chromium, where a page from a listed origin reads the API's answer and a page
from any other origin is stopped by the browser itself.

The suite's own server lists no origin (the default): a cross-origin page gets nothing from it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import ValidationError

from api.settings import Settings
from tests.conftest import HTTP, Server, extra_server

PAGE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>dasbor uji</title></head>
<body><pre id="out">menunggu</pre>
<script>
  const [api, token] = location.hash.slice(1).split("|").map(decodeURIComponent);
  fetch(api, {
    method: "POST",
    headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
    body: JSON.stringify({query: "{ viewer { agency } programmeSummary { workers } }"}),
  })
    .then((r) => r.json())
    .then((j) => { document.getElementById("out").textContent = "ok " + JSON.stringify(j.data); })
    .catch((e) => { document.getElementById("out").textContent = "blocked " + e; });
</script></body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Two static sites on 127.0.0.1, each its own origin (another port): (listed, unlisted) base URLs."""
    folder = tmp_path_factory.mktemp("pages")
    (folder / "dasbor.html").write_text(PAGE, encoding="utf-8")
    sites = [ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder))) for _ in range(2)]
    threads = [threading.Thread(target=site.serve_forever, daemon=True) for site in sites]
    for thread in threads:
        thread.start()
    try:
        yield tuple(f"http://127.0.0.1:{site.server_address[1]}" for site in sites)  # type: ignore[misc]
    finally:
        for site in sites:
            site.shutdown()
            site.server_close()


@pytest.fixture(scope="module")
def cors_server(server: Server, pages: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    listed, _unlisted = pages
    origins = f"{listed},https://dasbor.pasuruankota.go.id"
    workdir = tmp_path_factory.mktemp("cors")
    with extra_server(server, workdir, RENTAN_CORS_ORIGINS=origins, RENTAN_CORS_MAX_AGE_SECONDS="900") as running:
        yield running


def _preflight(url: str, origin: str) -> Any:
    return HTTP.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def test_a_listed_origins_preflight_is_answered_without_a_token(cors_server: Server, pages: tuple[str, str]) -> None:
    listed, _ = pages
    answer = _preflight(cors_server.url, listed)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == listed  # the origin itself, never "*"
    assert answer.headers["access-control-allow-methods"] == "POST"
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "accept-language"} <= allowed
    assert answer.headers["access-control-max-age"] == "900"
    assert "access-control-allow-credentials" not in answer.headers  # bearer tokens only, no cookies


def test_an_unlisted_origin_gets_no_permission(cors_server: Server, pages: tuple[str, str]) -> None:
    _, unlisted = pages
    for origin in (unlisted, "https://evil.example", "null"):
        answer = _preflight(cors_server.url, origin)
        assert answer.status_code == 400, origin
        assert "access-control-allow-origin" not in answer.headers, origin
    # Other methods are not offered even to a listed origin: queries over GET stay same-origin (GraphiQL).
    listed, _ = pages
    get = HTTP.options(cors_server.url, headers={"Origin": listed, "Access-Control-Request-Method": "GET"})
    assert get.status_code == 400


def test_answers_to_a_listed_origin_carry_the_headers_even_when_refused(
    cors_server: Server, pages: tuple[str, str]
) -> None:
    """The page can read its data, and also why it was refused (401 without a token), and the request id."""
    listed, unlisted = pages
    token = cors_server.token("pemkot-analyst")
    body = {"query": "{ viewer { agency } }"}
    ok = HTTP.post(cors_server.url, json=body, headers={"Origin": listed, "Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    assert ok.json()["data"] == {"viewer": {"agency": "PEMKOT"}}
    assert ok.headers["access-control-allow-origin"] == listed
    exposed = {h.strip().lower() for h in ok.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "retry-after"} <= exposed
    assert "origin" in ok.headers["vary"].lower()

    refused = HTTP.post(cors_server.url, json=body, headers={"Origin": listed})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == listed

    other = HTTP.post(cors_server.url, json=body, headers={"Origin": unlisted, "Authorization": f"Bearer {token}"})
    assert "access-control-allow-origin" not in other.headers  # the browser keeps the answer from that page


def test_without_a_list_no_origin_is_allowed(server: Server, pages: tuple[str, str]) -> None:
    listed, _ = pages
    answer = _preflight(server.url, listed)
    assert "access-control-allow-origin" not in answer.headers
    token = server.token("pemkot-analyst")
    post = HTTP.post(
        server.url,
        json={"query": "{ viewer { agency } }"},
        headers={"Origin": listed, "Authorization": f"Bearer {token}"},
    )
    assert "access-control-allow-origin" not in post.headers


@pytest.mark.parametrize(
    "value",
    ["*", "http://127.0.0.1:5173/", "https://dasbor.go.id/app", "dasbor.go.id", "https://*.go.id", "ftp://x.go.id"],
)
def test_a_setting_that_is_not_an_exact_origin_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="not an exact origin"):
        Settings(cors_origins=value)


def test_origins_are_read_comma_separated() -> None:
    settings = Settings(cors_origins=" https://dasbor.pasuruankota.go.id , http://127.0.0.1:5173 ,")
    assert settings.cors_origins == ("https://dasbor.pasuruankota.go.id", "http://127.0.0.1:5173")
    assert Settings().cors_origins == ()


def test_in_a_browser_only_the_listed_origins_page_reads_the_answer(
    cors_server: Server, pages: tuple[str, str], chromium: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium
    assert isinstance(driver, WebDriver)
    token = cors_server.token("pemkot-analyst")
    fragment = f"#{quote(cors_server.url, safe='')}|{quote(token, safe='')}"
    seen = {}
    for site in pages:
        driver.get(f"{site}/dasbor.html{fragment}")
        WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "out").text != "menunggu")
        seen[site] = driver.find_element(By.ID, "out").text
    listed, unlisted = pages
    assert seen[listed].startswith('ok {"viewer":{"agency":"PEMKOT"},"programmeSummary":{"workers":'), seen
    assert seen[unlisted] == "blocked TypeError: Failed to fetch", seen
    driver.save_screenshot(str(tmp_path / "cors-blocked.png"))  # the last page: what the unlisted origin shows

"""GraphiQL works without the internet: the page and every asset come from the server itself.

The city network may be closed, so the development GraphiQL loads nothing from a CDN (api/graphiql.py,
api/static/graphiql/). The browser test runs Debian's headless Chromium (`apt-get install chromium
chromium-driver`, done by .ci/run) with every host but 127.0.0.1 made unresolvable, types a token into the
Headers editor, runs a query and reads the answer; without /usr/bin/chromium it is skipped.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit

import httpx

from tests.conftest import HTTP, Server

QUERY = "{ viewer { roles agency } }"


class _References(HTMLParser):
    """Every URL a page makes the browser load: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append((tag, str(values[name])))


def _page(server: Server) -> httpx.Response:
    return HTTP.get(server.url, headers={"Accept": "text/html,application/xhtml+xml"}, timeout=10)


def test_page_names_only_assets_of_its_own_server(server: Server) -> None:
    page = _page(server)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(server.url))
    foreign = [u for u in re.findall(r"(?:https?:)?//[^\s\"'`<>)]+", page.text) if not u.startswith(origin)]
    assert foreign == [], f"the GraphiQL page names URLs outside this server: {foreign}"

    parser = _References()
    parser.feed(page.text)
    tags = {tag for tag, _ in parser.urls}
    assert {"script", "link"} <= tags, parser.urls
    assert len(parser.urls) == 8  # icon, react, react-dom, js-cookie, 2 stylesheets, graphiql, explorer
    with httpx.Client(timeout=10) as client:  # no token: the assets are public
        for _, url in parser.urls:
            absolute = urljoin(server.url, url)
            assert absolute.startswith(f"{origin}/graphiql/static/"), absolute
            asset = client.get(absolute)
            assert asset.status_code == 200, (absolute, asset.status_code)
            assert asset.content, absolute
            assert "immutable" in asset.headers["cache-control"], absolute
            if absolute.endswith(".js"):
                assert "javascript" in asset.headers["content-type"], absolute
        # Only what is there is served: no path outside the asset folder, no listing.
        assert client.get(urljoin(server.url, "graphiql/static/")).status_code == 404
        assert client.get(urljoin(server.url, "graphiql/static/../graphiql.html")).status_code == 404


def test_graphiql_runs_a_query_in_headless_chromium(server: Server, chromium: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium
    assert isinstance(driver, WebDriver)
    wait = WebDriverWait(driver, 15)
    token = server.token("pemkot-analyst")

    # The query comes in the URL's fragment (the page's way of sharing a query); the token is typed into the
    # Headers editor, as a person pastes it.
    driver.get(f"{server.url}#q={quote(QUERY)}")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".graphiql-query-editor .CodeMirror")))
    query_text = driver.execute_script(
        "return document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"
    )
    assert query_text == QUERY

    headers_tab = next(
        b for b in driver.find_elements(By.CSS_SELECTOR, ".graphiql-editor-tools button") if b.text == "Headers"
    )
    headers_tab.click()
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    driver.execute_script(
        """
        const editors = [...document.querySelectorAll('.graphiql-editor-tool .graphiql-editor')];
        const visible = editors.filter((e) => !e.classList.contains('hidden'));
        visible[0].querySelector('.CodeMirror').CodeMirror.setValue(arguments[0]);
        """,
        headers,
    )

    driver.find_element(By.CSS_SELECTOR, "button.graphiql-execute-button").click()

    def answer(d: WebDriver) -> str | None:
        text = d.execute_script(
            "const r = document.querySelector('.graphiql-response .CodeMirror');"
            "return r ? r.CodeMirror.getValue() : null;"
        )
        return text if text and "roles" in text else None

    result = wait.until(answer)
    assert '"pemkot-analyst"' in result, result
    assert json.loads(result)["data"] == {"viewer": {"roles": ["pemkot-analyst"], "agency": "PEMKOT"}}

    # Everything the page loaded came from the test server, and nothing failed to load.
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(server.url))
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    assert loaded, "no resource entries"
    assert [u for u in loaded if not u.startswith(origin)] == []
    assert any(u.endswith("/graphiql.min.js") for u in loaded), loaded
    # The only failures allowed: the schema fetches GraphiQL makes before a token is in the Headers editor (401).
    unauthenticated = f"{server.url} - Failed to load resource: the server responded with a status of 401"
    severe = [
        e for e in driver.get_log("browser") if e["level"] == "SEVERE" and not e["message"].startswith(unauthenticated)
    ]
    assert severe == [], severe

    # And the browser really is offline: the CDN strawberry's own page loads from does not even resolve.
    cdn = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('https://unpkg.com/react@18.2.0/umd/react.production.min.js', {mode: 'no-cors'})"
        ".then(() => done('reached'), (e) => done('failed: ' + e));"
    )
    assert cdn.startswith("failed"), cdn
    assert any("ERR_NAME_NOT_RESOLVED" in e["message"] for e in driver.get_log("browser")), "the CDN resolved"
    driver.save_screenshot(str(tmp_path / "graphiql.png"))

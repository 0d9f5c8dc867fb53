"""The reference dashboard (/dashboard, api/dashboard.py) as a person sees it, in headless Chromium.

One browser serves the whole module. The page runs against a server on which every role is limited to trusted
documents (RENTAN_TRUSTED_DOCUMENTS_ONLY_ROLES), so a page that sent query text anywhere would be refused and say
so: a page that loads has asked only by documentId. For each role it signs in with a pasted token, and the figures
it shows (their raw numbers in ``data-value``) are compared with what ``programmeSummary`` answers that role; what
the role may not read is not on the page. The chart is drawn, nothing is fetched from another host, and axe-core
(tests/vendor, from npm) finds no serious or critical accessibility violation.

In production the page signs in with OpenID Connect: a fake identity provider on 127.0.0.1 (discovery, an
/authorize that answers straight away with a code, a /token that checks the PKCE verifier against the challenge,
and a JWKS) and a production server trusting it; Chromium signs in through it and the dashboard loads.

``UPDATE_DASHBOARD_SCREENSHOT=1 pytest tests/test_dashboard.py`` also writes the README's docs/dashboard.png.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from api.auth import issue_dev_token
from api.dashboard import dashboard_routes, document_ids
from api.documents import SHIPPED
from api.settings import Settings
from tests.conftest import (
    BUGUL_LOR,
    CHROMEDRIVER,
    CHROMIUM,
    CITY,
    HTTP,
    ROOT,
    TYPICAL_SCOPE,
    Api,
    LocalHTTP,
    Server,
    extra_server,
    production_server,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

AXE = ROOT / "tests/vendor/axe-core-4.14.1/axe.min.js"
SCREENSHOT = ROOT / "docs/dashboard.png"
CLIENT_ID = "rentan-dashboard"
SUMMARY = """{ programmeSummary {
  workers activeEnrollments proposedEnrollments rejectedEnrollments
  byKelurahan { kelurahan { code } }
  realisation { allocated billed paid remaining projectedSpend projectedRemaining }
} }"""
LAPSED_NAMES = "{ enrollments(filter: {status: LAPSED}, first: 100) { edges { node { worker { fullName } } } } }"


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """The suite's headless Chromium (tests/conftest.py, chromium), once for the module: starting it is most of
    a browser test's time."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        missing = "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # nothing could load from the internet
        "--no-proxy-server",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def trusted_only(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A development server on the suite's database where every role may send only registered documents, and
    no folder of the deployment's: the dashboard's own documents are registered anyway."""
    with extra_server(
        server,
        tmp_path_factory.mktemp("dashboard"),
        RENTAN_TRUSTED_DOCUMENTS_ONLY_ROLES=",".join(TYPICAL_SCOPE),
    ) as running:
        yield running


def origin(server: Server) -> str:
    return server.url.removesuffix("/graphql")


def wait_for(driver: WebDriver, *states: str) -> str:
    """The page's state once it is one of ``states`` (body's data-state, which dashboard.js sets), on a page that
    is not one marked ``window.leaving`` (a page the test has navigated away from, whose state is stale)."""
    from selenium.common.exceptions import JavascriptException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    read = "return window.leaving ? null : document.body && document.body.dataset.state"
    waiting = WebDriverWait(driver, 15, ignored_exceptions=(JavascriptException, StaleElementReferenceException))
    waiting.until(lambda d: d.execute_script(read) in states)
    state: str = driver.execute_script(read)
    return state


def sign_in_with_token(driver: WebDriver, server: Server, token: str) -> None:
    """What a developer does: open the page, paste a token, press Masuk."""
    from selenium.webdriver.common.by import By

    driver.get(f"{origin(server)}/dashboard")
    driver.execute_script("sessionStorage.clear()")  # the module's one tab: no earlier role's token
    driver.get(f"{origin(server)}/dashboard")
    assert wait_for(driver, "signin") == "signin"
    driver.find_element(By.ID, "token-input").send_keys(token)
    driver.find_element(By.ID, "token-submit").click()
    state = wait_for(driver, "ready", "error", "signin")
    assert state == "ready", driver.find_element(By.ID, "problem").text


def figures(driver: WebDriver) -> dict[str, str]:
    """Every figure the page shows, by key, as the raw number it holds."""
    found: dict[str, str] = driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('[data-figure]')]"
        ".map((e) => [e.dataset.figure, e.dataset.value]))"
    )
    return found


def visible_sections(driver: WebDriver) -> set[str]:
    shown: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('main > section')].filter((s) => !s.hidden).map((s) => s.id)"
    )
    return set(shown)


def resources(driver: WebDriver) -> list[str]:
    names: list[str] = driver.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    return names


def console_errors(driver: WebDriver) -> list[str]:
    """Errors the page logged since the last call: a script error, or a load the page's CSP refused."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def painted_pixels(driver: WebDriver) -> int:
    count: int = driver.execute_script(
        """const c = document.getElementById('realisation-chart');
        const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) n++;
        return n;"""
    )
    return count


def axe_violations(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it stands. Injected by WebDriver, which
    the page's Content-Security-Policy does not govern: the page itself never loads it."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    found: dict[str, Any] = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
          .then((r) => done({violations: r.violations.map((v) => ({id: v.id, impact: v.impact,
            help: v.help, nodes: v.nodes.map((n) => n.target.join(' '))}))}))
          .catch((e) => done({error: String(e)}));"""
    )
    assert "error" not in found, found
    violations: list[dict[str, Any]] = found["violations"]
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def test_the_page_is_public_strict_and_names_only_its_own_files(trusted_only: Server) -> None:
    page = HTTP.get(f"{origin(trusted_only)}/dashboard")  # no token: the page holds no data
    assert page.status_code == 200
    assert '<html lang="id">' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'self';" in policy
    assert "default-src 'none'" in policy
    assert "unsafe" not in policy
    assert "http" not in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    # One source of truth: the ids the page carries are those the registry computed from the same files.
    config = json.loads(page.text.split('id="rentan-config">', 1)[1].split("</script>", 1)[0])
    assert config["signIn"] == "token"
    assert config["oidc"] is None
    assert config["documents"] == document_ids()
    assert set(document_ids()) == {"viewer", "summary", "funding", "at_risk"}
    variables = {"funding": {"bills": 1}, "at_risk": {"personal": False, "first": 1}}
    token = trusted_only.token("pemkot-analyst")
    for name, id_ in config["documents"].items():
        body = {"documentId": id_, "variables": variables.get(name, {})}
        answer = HTTP.post(trusted_only.url, json=body, headers={"Authorization": f"Bearer {token}"}).json()
        assert "errors" not in answer, (name, answer)  # registered on a server that names no folder of its own
    # Its assets: served without a token, a vendored library cached for good, the page's own files revalidated.
    chart = HTTP.get(f"{origin(trusted_only)}/dashboard/static/chart.js-4.6.1/chart.umd.min.js")
    assert chart.status_code == 200
    assert "immutable" in chart.headers["cache-control"]
    own = HTTP.get(f"{origin(trusted_only)}/dashboard/static/dashboard.js")
    assert own.status_code == 200
    assert own.headers["cache-control"] == "no-cache"
    assert HTTP.get(f"{origin(trusted_only)}/dashboard/static/../documents.py").status_code == 404
    # Production without an identity provider serves no dashboard at all.
    production = Settings(env="production", jwks_url="https://sso.example/jwks")
    assert dashboard_routes(production) == []


ROLES = {
    # role: (sections shown, whether names of people are on the page)
    "pemkot-admin": ({"figures", "funding", "bills", "at-risk", "kelurahan"}, True),
    "pemkot-analyst": ({"figures", "funding", "bills", "at-risk", "kelurahan"}, False),
    "kelurahan-viewer": ({"figures", "at-risk", "kelurahan"}, False),
    "kelurahan-operator": ({"figures", "at-risk", "kelurahan"}, True),
    "bpjstk-verifier": ({"figures", "funding", "bills", "at-risk", "kelurahan"}, True),
}


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_sees_its_figures_and_nothing_it_may_not_read(
    role: str, browser: WebDriver, trusted_only: Server, server: Server, admin: Api, tmp_path: Path
) -> None:
    token = trusted_only.token(role)
    sign_in_with_token(browser, trusted_only, token)
    sections, personal = ROLES[role]
    assert visible_sections(browser) == sections

    # The figures on the page are programmeSummary's for the same token (asked of the suite's server, on the same
    # database, which takes ad-hoc queries).
    summary = Api(server.url, token).data(SUMMARY)["programmeSummary"]
    shown = figures(browser)
    expected = {k: str(summary[k]) for k in ("workers", "activeEnrollments", "proposedEnrollments")}
    expected["rejectedEnrollments"] = str(summary["rejectedEnrollments"])
    if summary["realisation"] is not None:
        expected |= {k: str(v) for k, v in summary["realisation"].items()}
    assert {k: v for k, v in shown.items() if k != "lapsed"} == expected
    rows = browser.execute_script(
        "return [...document.querySelectorAll('#kelurahan-table tbody tr')].map((r) => r.dataset.kelurahan)"
    )
    assert sorted(rows) == sorted(r["kelurahan"]["code"] for r in summary["byKelurahan"])
    if role.startswith("kelurahan"):
        assert rows == [BUGUL_LOR]  # a kelurahan office sees its own kelurahan only

    # Names of people only for roles that handle personal data; the others get counts by kelurahan.
    text = browser.find_element("tag name", "main").text
    lapsed = [e["node"]["worker"]["fullName"] for e in admin.data(LAPSED_NAMES)["enrollments"]["edges"]]
    assert lapsed, "the seed has lapsed members"
    if personal and not role.startswith("kelurahan"):  # a kelurahan office sees its own kelurahan's only
        assert all(name in text for name in lapsed)
    if not personal:
        assert not any(name in text for name in lapsed)
        assert "Nama" not in browser.execute_script("return document.querySelector('#at-risk-table thead').textContent")
    # Indonesian formats: "Rp 2.000.000.000", thousands with a dot.
    if "allocated" in shown:
        written = browser.execute_script("return document.querySelector('[data-figure=allocated]').textContent")
        assert written == "Rp\u00a0" + f"{int(shown['allocated']):,}".replace(",", ".")

    if "funding" in sections:
        # The chart is drawn: Chart.js holds the months, and the canvas has paint on it.
        months = browser.execute_script(
            "return Chart.getChart(document.getElementById('realisation-chart')).data.labels.length"
        )
        assert months > 0
        assert painted_pixels(browser) > 5_000

    # Everything came from the server itself, and the page logged no error (a CSP refusal would be one).
    own = origin(trusted_only) + "/"
    loaded = resources(browser)
    assert [u for u in loaded if not u.startswith(own)] == []
    asked = [u for u in loaded if u == own + "graphql"]
    assert len(asked) == 1 + len(sections & {"figures", "funding", "at-risk"})  # viewer, then one per document
    assert console_errors(browser) == []

    screenshot = tmp_path / f"dashboard-{role}.png"
    browser.save_screenshot(str(screenshot))
    print(f"\nscreenshot of the dashboard as {role}: {screenshot}")
    if role == "pemkot-admin" and os.environ.get("UPDATE_DASHBOARD_SCREENSHOT"):
        # 1400x900 of page: the window is that much taller than its viewport.
        chrome = browser.execute_script("return window.outerHeight - window.innerHeight")
        size = browser.get_window_size()
        browser.set_window_size(1400, 900 + chrome)
        browser.save_screenshot(str(SCREENSHOT))
        browser.set_window_size(size["width"], size["height"])
        print(f"README screenshot written: {SCREENSHOT}")


def test_only_registered_documents_reach_the_server(trusted_only: Server) -> None:
    """The pages above loaded on a server that refuses anything but registered documents from every role; an
    ad-hoc query with the same kind of token is refused there, so the pages sent none."""
    answer = HTTP.post(
        trusted_only.url,
        json={"query": "{ viewer { subject } }"},
        headers={"Authorization": f"Bearer {trusted_only.token('pemkot-admin')}"},
    ).json()
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["TRUSTED_DOCUMENT_REQUIRED"]
    by_id = HTTP.post(
        trusted_only.url,
        json={"documentId": document_ids()["viewer"]},
        headers={"Authorization": f"Bearer {trusted_only.token('pemkot-admin')}"},
    ).json()
    assert by_id["data"]["viewer"]["subject"] == f"pemkot-admin-{CITY}@test"


def test_the_page_is_accessible(browser: WebDriver, trusted_only: Server) -> None:
    from selenium.webdriver.common.by import By

    sign_in_with_token(browser, trusted_only, trusted_only.token("pemkot-admin"))
    browser.find_element(By.CSS_SELECTOR, "#funding details summary").click()  # the month table too
    assert axe_violations(browser) == []
    browser.find_element(By.ID, "sign-out").click()
    assert wait_for(browser, "signin") == "signin"
    assert axe_violations(browser) == []  # the sign-in form
    assert browser.execute_script("return sessionStorage.length") == 0  # signing out forgets the token


def test_an_expired_token_asks_to_sign_in_again(browser: WebDriver, trusted_only: Server) -> None:
    from selenium.webdriver.common.by import By

    settings = trusted_only.settings
    expired = issue_dev_token(settings, role="pemkot-admin", scope=CITY, subject="late@test", ttl=-3600)
    browser.get(f"{origin(trusted_only)}/dashboard")
    browser.execute_script("sessionStorage.setItem('rentan.dashboard.token', arguments[0])", expired)
    browser.get(f"{origin(trusted_only)}/dashboard")
    assert wait_for(browser, "signin", "ready", "error") == "signin"
    assert "silakan masuk kembali" in browser.find_element(By.ID, "problem").text
    assert browser.execute_script("return sessionStorage.length") == 0
    console_errors(browser)  # the 401 is logged by Chromium as a failed load: expected here


# --- production: OpenID Connect, authorization code with PKCE


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class FakeProvider(LocalHTTP):
    """An OpenID Connect provider reduced to what the code flow with PKCE needs, on 127.0.0.1. /authorize signs the
    person in at once (as pemkot-admin) and sends the browser back with a code; /token gives the tokens only for
    the verifier whose S256 hash is the challenge /authorize was sent. ``exchanges`` records each code exchange."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    authorizations: list[dict[str, str]] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)  # "ok", or why a code was refused

    @property
    def issuer(self) -> str:
        return self.base

    def tokens(self, client_id: str, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        access = {
            "iss": self.issuer,
            "aud": "rentan-api",
            "sub": "dinas-tenaga-kerja@sso",
            "role": "pemkot-admin",
            "scope": CITY,
            "iat": now,
            "nbf": now,
            "exp": now + 900,
        }
        identity = {"iss": self.issuer, "aud": client_id, "sub": access["sub"], "iat": now, "exp": now + 900}
        if nonce:
            identity["nonce"] = nonce
        sign = {"algorithm": "ES256", "headers": {"kid": "fake-1"}}
        return {
            "access_token": jwt.encode(access, self.key, **sign),  # type: ignore[arg-type]
            "id_token": jwt.encode(identity, self.key, **sign),  # type: ignore[arg-type]
            "token_type": "Bearer",
            "expires_in": 900,
            "scope": "openid",
        }

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self.codes.pop(form.get("code", ""), None)  # a code is good once
        if form.get("grant_type") != "authorization_code" or grant is None:
            self.exchanges.append("unknown code")
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant["redirect_uri"] or form.get("client_id") != grant["client_id"]:
            self.exchanges.append("another client or redirect")
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode("ascii")).digest()) != grant["code_challenge"]:
            self.exchanges.append("PKCE verifier does not match the challenge")
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        self.exchanges.append("ok")
        return 200, self.tokens(grant["client_id"], grant.get("nonce"))

    def start(self) -> FakeProvider:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self, status: int, body: dict[str, Any] | None = None, **headers: str) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                # The dashboard's page (another origin) reads discovery and token answers: CORS, as real providers.
                self.send_header("Access-Control-Allow-Origin", "*")
                self.send_header("Access-Control-Allow-Headers", "Content-Type, Authorization")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_OPTIONS(self) -> None:
                self.answer(204)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self.answer(
                        200,
                        {
                            "issuer": owner.issuer,
                            "authorization_endpoint": f"{owner.issuer}/authorize",
                            "token_endpoint": f"{owner.issuer}/token",
                            "jwks_uri": f"{owner.issuer}/jwks",
                            "response_types_supported": ["code"],
                            "grant_types_supported": ["authorization_code"],
                            "code_challenge_methods_supported": ["S256"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["ES256"],
                        },
                    )
                elif url.path == "/jwks":
                    jwk = json.loads(ECAlgorithm.to_jwk(owner.key.public_key()))
                    self.answer(200, {"keys": [{**jwk, "kid": "fake-1", "use": "sig", "alg": "ES256"}]})
                elif url.path == "/authorize":
                    asked = {k: v[0] for k, v in parse_qs(url.query).items()}
                    owner.authorizations.append(asked)
                    code = secrets.token_urlsafe(16)
                    owner.codes[code] = asked
                    back = urlencode({"code": code, "state": asked.get("state", "")})
                    self.answer(302, None, Location=f"{asked['redirect_uri']}?{back}")
                else:
                    self.answer(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path != "/token":
                    self.answer(404, {"error": "not_found"})
                    return
                self.answer(*owner.exchange(form))

            def log_message(self, *_args: Any) -> None:
                pass

        self.serve(Handler)
        return self


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    try:
        yield fake
    finally:
        fake.stop()


def test_in_production_the_page_signs_in_with_oidc_and_pkce(
    browser: WebDriver, provider: FakeProvider, server: Server, admin: Api, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    with production_server(
        server,
        tmp_path / "production",
        f"{provider.issuer}/jwks",
        RENTAN_JWT_ISSUER=provider.issuer,  # the provider issues the API's access tokens
        RENTAN_OIDC_ISSUER=provider.issuer,
        RENTAN_OIDC_CLIENT_ID=CLIENT_ID,
    ) as running:
        page = HTTP.get(f"{origin(running)}/dashboard")
        assert f"connect-src 'self' {provider.issuer};" in page.headers["content-security-policy"]

        browser.get(f"{origin(running)}/dashboard")
        assert wait_for(browser, "signin") == "signin"
        assert not browser.find_element(By.ID, "token-form").is_displayed()  # no pasted tokens in production
        browser.execute_script("window.leaving = true")  # the page goes to the provider and comes back anew
        browser.find_element(By.ID, "oidc-submit").click()
        state = wait_for(browser, "ready", "error", "signin")
        assert state == "ready", browser.find_element(By.ID, "problem").text

        # The page went through the provider with a PKCE challenge, and the provider checked the verifier.
        [asked] = provider.authorizations
        assert asked["response_type"] == "code"
        assert asked["code_challenge_method"] == "S256"
        assert asked["client_id"] == CLIENT_ID
        assert asked["redirect_uri"] == f"{origin(running)}/dashboard"
        assert "openid" in asked["scope"].split()
        assert provider.exchanges == ["ok"]
        assert urlsplit(browser.current_url).query == ""  # the code is gone from the address bar
        assert browser.find_element(By.ID, "session-subject").text == "dinas-tenaga-kerja@sso"
        assert figures(browser)["workers"] == str(admin.data(SUMMARY)["programmeSummary"]["workers"])
        hosts = {urlsplit(u).netloc for u in resources(browser)}
        assert hosts <= {urlsplit(running.url).netloc, urlsplit(provider.issuer).netloc}, hosts
        screenshot = tmp_path / "dashboard-oidc.png"
        browser.save_screenshot(str(screenshot))
        print(f"\nscreenshot of the dashboard signed in through OIDC: {screenshot}")

    # The provider's check is real: a code redeemed with another verifier gets nothing.
    code = secrets.token_urlsafe(8)
    provider.codes[code] = {"redirect_uri": "x", "client_id": CLIENT_ID, "code_challenge": _b64url(b"\0" * 32)}
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "x", "client_id": CLIENT_ID}
    status, _ = provider.exchange({**form, "code_verifier": "not-the-verifier"})
    assert status == 400
    assert provider.exchanges[-1] == "PKCE verifier does not match the challenge"


def test_oidc_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="go together"):
        Settings(oidc_issuer="https://sso.pasuruankota.go.id/realms/rentan")
    with pytest.raises(ValueError, match="not an issuer URL"):
        Settings(oidc_issuer="https://sso.pasuruankota.go.id/", oidc_client_id=CLIENT_ID)
    with pytest.raises(ValueError, match="must be https in production"):
        Settings(env="production", oidc_issuer="http://sso.pasuruankota.go.id", oidc_client_id=CLIENT_ID)
    with pytest.raises(ValueError, match="must include openid"):
        Settings(oidc_scope="profile email")
    assert SHIPPED.is_dir()

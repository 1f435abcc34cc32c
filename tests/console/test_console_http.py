"""The console over plain HTTP against real servers: sign-in by token, CSRF, cookie attributes, tampered
sessions, and authorization left to the services (another lender's decision is refused)."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest
from console_site import ConsoleSite

from tanxiao.console.session import COOKIE

pytestmark = pytest.mark.slow


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Reply:
    status: int
    body: str
    headers: dict[str, str]
    set_cookies: list[str]


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects (so they can be asserted)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)

    def request(
        self, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path.lstrip("/"), data=body, headers=headers or {})
        try:
            response = self.opener.open(request, timeout=60)
        except urllib.error.HTTPError as exc:
            response = exc
        text = response.read().decode("utf-8", "replace")
        cookies = response.headers.get_all("set-cookie") or []
        return Reply(response.status, text, dict(response.headers), cookies)

    def csrf(self, path: str = "/signin") -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.request(path).body)
        assert found, "no CSRF field on the page"
        return found.group(1)

    def sign_in(self, token: str) -> Reply:
        return self.request("/signin", {"csrf": self.csrf(), "token": token})


def test_sign_in_with_a_token_sets_a_hardened_cookie(site: ConsoleSite) -> None:
    browser = Browser(site.url)
    reply = browser.sign_in(site.tokens["officer"])
    assert reply.status == 303 and reply.headers["location"] == "/"
    cookie = next(c for c in reply.set_cookies if c.startswith(COOKIE + "="))
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain HTTP on loopback only; with TLS the cookie is Secure
    assert site.tokens["officer"] not in cookie  # encrypted, not merely signed
    home = browser.request("/")
    assert home.status == 200 and "信贷员" in home.body
    assert "script-src 'self'" in home.headers["content-security-policy"]


def test_an_unknown_token_is_refused(site: ConsoleSite) -> None:
    browser = Browser(site.url)
    reply = browser.sign_in("tx_0123456789abcdef_" + "A" * 32)
    assert reply.status == 401 and "令牌无效" in reply.body
    assert browser.request("/").status == 303  # still signed out


def test_a_post_without_the_csrf_token_is_refused(site: ConsoleSite) -> None:
    browser = Browser(site.url)
    browser.csrf()
    reply = browser.request("/signin", {"token": site.tokens["officer"]})
    assert reply.status == 403
    reply = browser.request("/signin", {"token": site.tokens["officer"], "csrf": "forged"})
    assert reply.status == 403
    assert browser.request("/").status == 303
    # signed in, a cross-site form posting to sign-out without the token changes nothing
    assert browser.sign_in(site.tokens["officer"]).status == 303
    assert browser.request("/signout", {}).status == 403
    assert browser.request("/").status == 200


def test_a_tampered_session_cookie_is_a_signed_out_visitor(site: ConsoleSite) -> None:
    browser = Browser(site.url)
    browser.sign_in(site.tokens["officer"])
    for cookie in browser.jar:
        cookie.value = cookie.value[:-6] + ("AAAAAA" if not cookie.value.endswith("AAAAAA") else "BBBBBB")
    reply = browser.request("/")
    assert reply.status == 303 and reply.headers["location"].startswith("/signin")


def test_another_lenders_decision_is_refused_by_the_service(site: ConsoleSite) -> None:
    own = Browser(site.url)
    own.sign_in(site.tokens["officer"])
    page = own.request(f"/decisions/{site.decision}")
    assert page.status == 200 and site.uscc in page.body
    other = Browser(site.url)
    other.sign_in(site.tokens["other_lender"])
    for path in (f"/decisions/{site.decision}", f"/decisions/{site.decision}/explanation"):
        refused = other.request(path)
        # the service refuses without saying whether the decision exists (NOT_FOUND, or PERMISSION_DENIED)
        assert refused.status in (403, 404), path
        assert site.uscc not in refused.body and site.decision not in refused.body.split("</h1>", 1)[-1]
        assert "不属于您的机构" in refused.body or "无权查看" in refused.body


def test_language_switch_and_english_pages(site: ConsoleSite) -> None:
    browser = Browser(site.url)
    browser.sign_in(site.tokens["regulator"])
    csrf = browser.csrf("/")
    assert browser.request("/lang", {"csrf": csrf, "lang": "en", "next": "/regulator"}).status == 303
    page = browser.request("/regulator")
    assert page.status == 200 and '<html lang="en">' in page.body and "Regulatory report" in page.body
    assert (
        browser.request("/lang", {"csrf": csrf, "lang": "en", "next": "//evil.example/"}).headers["location"]
        == "/"
    )  # no open redirect


def test_a_regulator_downloads_the_regulatory_report(site: ConsoleSite) -> None:
    browser = Browser(site.url)
    browser.sign_in(site.tokens["regulator"])
    reply = browser.request("/regulator/download?format=csv")
    assert reply.status == 200 and "attachment" in reply.headers["content-disposition"]
    assert reply.body.count("\n") > 1
    lender = Browser(site.url)
    lender.sign_in(site.tokens["lender"])
    assert lender.request("/regulator/download?format=csv").status == 403  # the services' rule


def test_a_lender_quotes_from_the_console(site: ConsoleSite) -> None:
    browser = Browser(site.url)
    browser.sign_in(site.tokens["lender"])
    csrf = browser.csrf("/quote")
    form = {"csrf": csrf, "enterprise": site.uscc, "product": "GENERAL", "amount": "3000000", "tenor": "36",
            "bank_limit": "4000000", "base_rate_bp": "", "request_id": "console-quote-1"}  # fmt: skip
    reply = browser.request("/quote", form)
    assert reply.status == 303 and reply.headers["location"].startswith("/decisions/")
    page = browser.request(reply.headers["location"])
    assert page.status == 200 and "3,000,000 元" in page.body  # the request as the lender typed it, in yuan
    again = browser.request("/quote", form)  # the same request id: the same decision (idempotent)
    assert again.headers["location"] == reply.headers["location"]
    bad = browser.request("/quote", {**form, "amount": "three million", "request_id": "console-quote-2"})
    assert bad.status == 400 and "amount" in bad.body

"""The console in a real headless Chromium (Debian's `chromium`, driven by Playwright) against real
servers: a credit officer, a regulator and a lender at work. Screenshots of every page are written to
TANXIAO_SCREENSHOTS (default var/screenshots) for people to look at; they are not asserted."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_site import ConsoleSite

from tanxiao.console.views import has_reviews

pytestmark = [pytest.mark.slow, pytest.mark.heavy]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
FOCUSED = "(e => e.tagName + ':' + (e.name || e.textContent.trim()))(document.activeElement)"
SHOTS = Path(os.environ.get("TANXIAO_SCREENSHOTS", Path(__file__).parents[2] / "var" / "screenshots"))


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (`make test` installs it)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="zh-CN"
    )
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def _shot(page: Any, name: str) -> None:
    """The whole page. Chromium leaves sandboxed (cross-origin) frames blank in full-page captures, so
    the viewport is grown to the page's height instead."""
    size = page.viewport_size
    height = page.evaluate("() => document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(size)


def _sign_in(page: Any, site: ConsoleSite, who: str) -> None:
    page.goto(site.url + "signin")
    page.get_by_label("访问令牌").fill(site.tokens[who])
    page.get_by_label("访问令牌").press("Enter")
    page.wait_for_url(site.url)


def test_a_credit_officer_opens_the_queue_and_a_decision(page: Any, site: ConsoleSite) -> None:
    page.goto(site.url)
    assert page.url.startswith(site.url + "signin")
    _shot(page, "01-signin")
    _sign_in(page, site, "officer")
    _shot(page, "02-officer-home")
    page.get_by_role("link", name="复核队列").click()
    page.wait_for_url(site.url + "queue")
    _shot(page, "03-queue")
    page.goto(site.url)
    page.get_by_label("决策编号").fill(site.decision)
    page.get_by_role("button", name="打开决策").click()
    page.wait_for_url(f"{site.url}decisions/{site.decision}")
    outcome = page.locator("section.outcome")
    assert "review" in (outcome.get_attribute("class") or "")  # amber: eligible, needs review
    assert "待人工复核" in outcome.inner_text()
    assert "复核原因" in outcome.inner_text() and "_" not in outcome.inner_text()  # reasons by name
    frame = page.frame_locator("iframe.explanation")
    assert site.uscc in frame.locator("body").inner_text()
    _shot(page, "04-decision")


def test_a_credit_officer_opens_a_consenting_borrowers_enterprise_page(page: Any, site: ConsoleSite) -> None:
    """The demo data records each borrower's consent to its lender: huzhou-bank's officer finds the
    borrower in the enterprise list and sees its profile, grade history, commitments and the consent."""
    _sign_in(page, site, "officer")
    page.get_by_role("link", name="企业", exact=True).click()
    page.wait_for_url(site.url + "enterprises")
    listed = page.locator("main table tbody tr")
    assert listed.count() >= 1 and "已向本机构授权" in page.locator("main").inner_text()
    _shot(page, "12-officer-enterprises")
    page.locator(f"main a[href='/enterprises/{site.borrower}']").click()
    page.wait_for_url(f"{site.url}enterprises/{site.borrower}")
    main = page.locator("main")
    assert site.borrower in main.inner_text() and "湖州市" in main.inner_text()  # region by name
    history = page.locator("section[aria-labelledby=hist-h]")
    assert history.get_by_role("img").count() == 1 and history.locator("rect").count() >= 1  # the chart
    assert "碳效等级" in history.locator("table thead").inner_text()
    assert page.locator("section[aria-labelledby=trend-h]").count() == 1
    assert page.locator("section[aria-labelledby=dq-h]").count() == 1
    commitments = page.locator("section[aria-labelledby=cm-h]")
    assert commitments.locator("article.card").count() >= 1 and commitments.locator("progress").count() >= 1
    consent = page.locator("section[aria-labelledby=consent-h] table tbody")
    assert "湖州银行" in consent.inner_text() and "碳排放数据" in consent.inner_text()
    _shot(page, "13-officer-enterprise")


def test_an_officer_of_a_lender_without_consent_is_refused_the_enterprise_page(
    page: Any, site: ConsoleSite
) -> None:
    _sign_in(page, site, "other_officer")  # anji-rcb: the borrower consented to huzhou-bank only
    response = page.goto(f"{site.url}enterprises/{site.borrower}")
    assert response is not None and response.status == 403
    refusal = page.locator("main").inner_text()
    assert "尚未向本机构授权" in refusal
    assert site.borrower not in refusal and page.locator("section[aria-labelledby=hist-h]").count() == 0
    _shot(page, "14-officer-refused-without-consent")
    page.goto(site.url + "enterprises")
    assert site.borrower not in page.locator("main").inner_text()  # nor listed


def test_a_regulator_opens_the_reports_and_downloads_them(
    page: Any, site: ConsoleSite, tmp_path: Path
) -> None:
    _sign_in(page, site, "regulator")
    page.get_by_role("link", name="监管报表").click()
    page.wait_for_url(site.url + "regulator")
    assert page.locator("dl.figures").count() == 1  # the demo book is reported
    _shot(page, "05-regulator")
    links = page.locator("ul.downloads a")
    names = [links.nth(i).inner_text() for i in range(links.count())]
    wanted = next((n for n in names if n.endswith("XLSX")), next(n for n in names if n.endswith("CSV")))
    with page.expect_download() as caught:
        page.get_by_role("link", name=wanted).click()
    saved = tmp_path / caught.value.suggested_filename
    caught.value.save_as(saved)
    data = saved.read_bytes()
    assert data.startswith(b"PK\x03\x04") if wanted.endswith("XLSX") else data.count(b"\n") > 1
    page.goto(site.url + f"enterprises/{site.uscc}")
    assert page.get_by_role("img").count() >= 1  # the grade history chart
    _shot(page, "06-enterprise")


def test_a_lender_cannot_open_another_lenders_decision(page: Any, site: ConsoleSite) -> None:
    _sign_in(page, site, "other_lender")
    response = page.goto(f"{site.url}decisions/{site.decision}")
    assert response is not None and response.status in (403, 404)  # refused, existence not revealed
    refusal = page.locator("main").inner_text()
    assert "不属于您的机构" in refusal or "无权查看" in refusal
    assert site.uscc not in page.content()
    _shot(page, "07-lender-refused")


def test_a_lender_sees_its_portfolio_and_drills_down(page: Any, site: ConsoleSite) -> None:
    _sign_in(page, site, "lender")
    page.get_by_role("link", name="贷款组合").click()
    page.wait_for_url(site.url + "portfolio")
    first_group = page.locator("#drill tbody a").first
    group_name = first_group.inner_text()
    first_group.click()  # htmx swaps the drill-down in place and pushes the URL
    page.wait_for_function("() => location.search.includes('key=')")
    assert page.locator("#drill caption").nth(1).inner_text().endswith(group_name)  # the loans of that group
    assert page.locator("#drill tr.selected").inner_text().startswith(group_name)
    assert page.locator("#drill table").nth(1).locator("tbody tr").count() >= 1
    _shot(page, "08-portfolio-drill")


def test_keyboard_and_labels(page: Any, site: ConsoleSite) -> None:
    page.goto(site.url + "signin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"  # first stop: skip to content
    _sign_in(page, site, "officer")
    for path in ("", "queue", f"decisions/{site.decision}", "enterprises", f"enterprises/{site.borrower}"):
        page.goto(site.url + path)
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                 .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name)"""
        )
        assert unlabelled == [], path
    page.goto(site.url + "queue")
    focused = []
    for _ in range(30):  # the queue by keyboard alone: skip link, navigation, filter, then the rows
        page.keyboard.press("Tab")
        focused.append(page.evaluate(FOCUSED))
        if focused[-1] == f"A:{site.decision}":
            break
    assert focused[0].startswith("A:") and "A:复核队列" in focused, focused
    order = [focused.index(f) for f in ("SELECT:state", "BUTTON:筛选", f"A:{site.decision}")]
    assert order == sorted(order), focused  # in reading order
    page.keyboard.press("Enter")  # and opened from the keyboard
    page.wait_for_url(f"{site.url}decisions/{site.decision}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"


@pytest.mark.skipif(not has_reviews(), reason="the review RPCs arrive with the underwriting contract")
def test_an_override_is_confirmed_by_a_second_officer_and_the_trail_shows_both(
    page: Any, chromium: Any, site: ConsoleSite
) -> None:
    decision_url = f"{site.url}decisions/{site.decision}"
    _sign_in(page, site, "officer")
    page.get_by_role("link", name="复核队列").click()
    page.wait_for_url(site.url + "queue")
    queue_link = page.get_by_role("link", name=site.decision)
    assert queue_link.count() == 1
    queue_link.focus()  # reachable and opened from the keyboard
    page.keyboard.press("Enter")
    page.wait_for_url(decision_url)
    form = page.locator("#review-form")
    form.get_by_label("操作").select_option("OVERRIDE")
    form.get_by_label("理由").select_option("TERMS_ADJUSTED")
    form.get_by_label("说明").fill("还款能力已按财报复核，额度下调")
    form.get_by_label("调整后额度（元）").fill("30000000")  # above the policy's four-eyes amount
    form.get_by_label("调整后利率（基点）").fill("350")
    form.get_by_role("button", name="提交").click()
    page.wait_for_url(decision_url + "?done=1")
    assert "调整条款待第二位审批人确认" in page.locator("main").inner_text()
    assert page.locator("ol.trail li").count() == 1
    _shot(page, "09-override-pending")

    second = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN").new_page()
    try:
        _sign_in(second, site, "approver")
        second.goto(site.url + "queue")
        assert site.decision in second.locator("#queue").inner_text()
        _shot(second, "10-queue-second-officer")
        second.goto(decision_url)
        form = second.locator("#review-form")
        form.get_by_label("操作").select_option("CONFIRM_OVERRIDE")
        form.get_by_label("理由").select_option("POLICY_EXCEPTION")
        form.get_by_role("button", name="提交").click()
        second.wait_for_url(decision_url + "?done=1")
        trail = second.locator("ol.trail li")
        assert trail.count() == 2
        assert "调整条款" in trail.nth(0).inner_text() and "复核确认调整" in trail.nth(1).inner_text()
        assert "已调整条款" in second.locator("main").inner_text()  # state OVERRIDDEN
        assert "approved" in (second.locator("section.outcome").get_attribute("class") or "")  # now green
        assert "30,000,000 元" in second.locator("section.outcome").inner_text()  # the terms in force
        _shot(second, "11-trail")
    finally:
        second.context.close()

"""The connection form in headless Chromium: Debian's chromium package, driven by Playwright."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.deployment import Deployment

# Playwright's own browser download cannot reach its CDN here: use the system's Chromium.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FORM_CONN_ID = "events_from_the_form"


@dataclass
class FormVisit:
    """What the browser saw: the form's labels, and each press of the list's Test button."""

    labels: list[str]
    tests: list[tuple[int, dict[str, Any], dict[str, Any]]] = field(default_factory=list)


def chromium_path() -> str:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    raise RuntimeError("no Chromium found: run make e2e, or apt-get install chromium (Debian's package)")


def visit_connection_form(dep: Deployment, screenshot: Path) -> FormVisit:
    """
    Add a connection through Admin > Connections as a user would, screenshot the filled form, save
    it, press Test; then store a port with it (the documented workaround) and press Test again.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            # The UI reads the same JWT from its cookie that the REST client sends as a header.
            context.add_cookies([{"name": "_token", "value": dep.token, "url": dep.api_url}])
            page = context.new_page()
            page.goto(f"{dep.api_url}/connections", wait_until="networkidle")
            visit = FormVisit(labels=_fill_the_form(page, dep, screenshot))
            page.get_by_role("button", name="Save").click()
            visit.tests.append(_press_test(page))
            port = int(dep.emulator_url.rsplit(":", 1)[1])
            body = {"connection_id": FORM_CONN_ID, "conn_type": "events_analytics", "port": port}
            dep.api("PATCH", f"/connections/{FORM_CONN_ID}", params={"update_mask": "port"}, json=body)
            page.reload(wait_until="networkidle")
            visit.tests.append(_press_test(page))
            page.screenshot(path=str(screenshot.with_name("connection-test-with-port.png")))
        finally:
            browser.close()
    return visit


def _fill_the_form(page: Any, dep: Deployment, screenshot: Path) -> list[str]:
    page.get_by_role("button", name="Add Connection").click()
    page.locator("input[name=connection_id]").fill(FORM_CONN_ID)
    choice = page.get_by_role("combobox")
    choice.click()
    choice.fill("Custom Events Analytics")
    page.get_by_role("option", name="Custom Events Analytics").click()
    page.locator("input[name=host]").fill(dep.emulator_url)
    page.locator("input[name=password]").fill(dep.api_key)
    page.get_by_text("REST API key", exact=True).wait_for()
    page.screenshot(path=str(screenshot))
    labels = [label.inner_text().strip(" *\n") for label in page.locator("label").all()]
    return [label for label in labels if label]


def _press_test(page: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """Press the row's Test button; return the status, the body the UI posted, and the answer."""
    row = page.locator("tr", has_text=FORM_CONN_ID)
    with page.expect_response(lambda answer: answer.url.endswith("/connections/test")) as caught:
        row.get_by_role("button", name="Test Connection").click()
    answer = caught.value
    return answer.status, answer.request.post_data_json, answer.json()

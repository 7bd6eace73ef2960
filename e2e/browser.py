"""The connection form in headless Chromium: Debian's chromium package, driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

from e2e.deployment import Deployment

# Playwright's own browser download cannot reach its CDN here: use the system's Chromium.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str:
    for name in CHROMIUM_NAMES:
        if path := shutil.which(name):
            return path
    raise RuntimeError(
        "no Chromium found: install Debian's package (apt-get install chromium), or run make e2e"
    )


def connection_form_screenshot(dep: Deployment, path: Path) -> list[str]:
    """Open Admin > Connections > Add, pick our type, fill it in, save a screenshot; return the labels."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            # The UI reads the same JWT from its cookie that the REST client sends as a header.
            context.add_cookies([{"name": "_token", "value": dep.token, "url": dep.api_url}])
            page = context.new_page()
            page.goto(f"{dep.api_url}/connections", wait_until="networkidle")
            page.get_by_role("button", name="Add Connection").click()
            page.locator("input[name=connection_id]").fill("events_from_the_form")
            choice = page.get_by_role("combobox")
            choice.click()
            choice.fill("Custom Events Analytics")
            page.get_by_role("option", name="Custom Events Analytics").click()
            page.locator("input[name=host]").fill(dep.emulator_url)
            page.locator("input[name=password]").fill("typed-in-the-form")
            page.get_by_text("REST API key", exact=True).wait_for()
            page.screenshot(path=str(path))
            labels = [label.inner_text().strip(" *\n") for label in page.locator("label").all()]
        finally:
            browser.close()
    return [label for label in labels if label]

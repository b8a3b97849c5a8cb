"""The app in a real headless Chromium (Debian's ``chromium``, driven by Playwright): upload photos,
see the curation report, train the tiny model with progress, get a ranked gallery, map the photos by
identity, predict motion, run a lab experiment; reload the page and find it all again in the workspace.

Screenshots go to the test's folder, or to ``$FACECHAIN_SCREENSHOTS`` (docs/images uses them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from facechain.config import Settings
from facechain.examples import write_example_photos
from tests.test_app import served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium: apt install chromium"),
    pytest.mark.slow,  # about 35 s: every tab driven in a real browser
]


def click_until_shown(button, shown, attempts: int = 3, timeout: int = 30_000) -> None:
    """Click ``button`` until ``shown`` is visible: Gradio's frontend drops a click that comes within a
    second or so of a generator handler's last output (the event still counts as pending), so a click
    that started nothing is made again."""
    from playwright.sync_api import expect

    for attempt in range(attempts):
        button.click()
        try:
            expect(shown).to_be_visible(timeout=timeout)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


@pytest.fixture()
def served_app(tmp_path, analyzer):
    with served(Settings(face_backend="dlib", home=tmp_path / "home"), tmp_path / "runs") as url:
        yield url


def test_photos_to_portraits_and_motion_in_a_browser(served_app, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("FACECHAIN_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    photos = write_example_photos(tmp_path / "photos")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(served_app)
        page.locator("input[type=file]").first.set_input_files([str(photos[i]) for i in (0, 1, 4, 10)])
        # the upload finishes in the background: a click before it has nothing to prepare (seen once in CI)
        expect(page.get_by_role("cell", name=photos[10].name)).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Prepare training set").click()
        expect(page.get_by_text("Kept 3 of 4 photos")).to_be_visible(timeout=120_000)
        expect(page.get_by_text("no face found").first).to_be_visible()
        page.screenshot(path=str(shots / "app-photos-tab.png"))

        page.get_by_role("tab", name="Train").click()
        steps = page.get_by_label("number input for Steps")
        steps.fill("8")
        steps.press("Enter")
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text("Done:")).to_be_visible(timeout=180_000)
        expect(page.get_by_text("TINY OFFLINE MODEL").first).to_be_visible()
        page.screenshot(path=str(shots / "app-train-tab.png"))

        page.get_by_role("tab", name="Generate").click()
        page.get_by_role("button", name="Refresh model list").click()
        model = page.get_by_role("combobox", name="Your model")
        expect(model).to_have_value("me (SD 1.x)", timeout=30_000)  # the choice's label names the family
        seed = page.get_by_label("Seed (-1: random)")
        seed.fill(str(2**40))  # a user error: shown as its message, not Gradio's empty "Error"
        page.get_by_role("button", name="Generate", exact=True).click()
        expect(page.get_by_text("seed must be between 0 and 4294967295")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(800)  # the toast slides in
        page.screenshot(path=str(shots / "app-generate-error.png"))
        seed.fill("-1")
        page.get_by_role("button", name="Generate", exact=True).click()
        expect(page.get_by_text("4 portraits")).to_be_visible(timeout=180_000)
        expect(page.get_by_text("seed").first).to_be_visible()
        page.screenshot(path=str(shots / "app-generate-tab.png"))
        page.get_by_text("Face detail, template photo and structure control").click()
        page.get_by_role("combobox", name="Template photo").click()
        page.get_by_role("option", name="astronaut", exact=True).click()
        count = page.get_by_label("number input for Portraits")
        count.fill("1")
        count.press("Enter")
        click_until_shown(
            page.get_by_role("button", name="Generate", exact=True), page.get_by_text("Template: astronaut")
        )
        expect(page.get_by_text("1 face refined").first).to_be_visible()
        page.screenshot(path=str(shots / "app-generate-template.png"), full_page=True)

        page.get_by_role("tab", name="Map").click()
        page.get_by_role("button", name="Draw map").click()
        expect(page.get_by_text("PCA map, not DLME")).to_be_visible(timeout=120_000)  # 3 faces: too few for DLME
        expect(page.get_by_text("outlier").first).to_be_visible()
        page.screenshot(path=str(shots / "app-map-tab.png"))

        page.get_by_role("tab", name="Motion").click()
        page.get_by_role("button", name="Predict motion").click()
        expect(page.get_by_text("procedural walk: predict, 3 futures")).to_be_visible(timeout=120_000)
        expect(page.get_by_role("img").last).to_be_visible()
        expect(page.get_by_text("Sampled with")).to_be_visible()  # the run's figures under the animation
        expect(page.get_by_role("cell", name="bone length error (%)")).to_be_visible()
        page.screenshot(path=str(shots / "app-motion-tab.png"))

        page.get_by_role("tab", name="Lab").click()
        page.get_by_role("button", name="Run experiment").click()
        expect(page.get_by_text("over 3 paired seeds")).to_be_visible(timeout=180_000)
        page.screenshot(path=str(shots / "app-lab-tab.png"))

        page.reload()  # the browser keeps the workspace token: everything is still there
        expect(page.get_by_text("Kept 3 of 4 photos")).to_be_visible(timeout=30_000)
        page.get_by_role("tab", name="Train").click()
        expect(page.get_by_role("gridcell", name="me", exact=True)).to_be_visible(timeout=30_000)
        page.get_by_role("tab", name="Generate").click()
        expect(page.get_by_text("Template: astronaut")).to_be_visible(timeout=30_000)  # the newest output
        page.get_by_role("tab", name="Workspace").click()
        expect(page.get_by_role("gridcell", name="models", exact=True)).to_be_visible(timeout=30_000)
        expect(page.get_by_role("gridcell", name="succeeded").first).to_be_visible()
        page.screenshot(path=str(shots / "app-workspace-tab.png"))

        fresh = browser.new_page(viewport={"width": 1280, "height": 1000})  # another browser profile's page
        fresh.goto(served_app)
        fresh.get_by_role("tab", name="Train").click()
        expect(fresh.get_by_text("Base models:")).to_be_visible(timeout=30_000)
        expect(fresh.get_by_role("gridcell", name="me", exact=True)).to_have_count(0)
        browser.close()

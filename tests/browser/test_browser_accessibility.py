"""Keyboard and screen-reader use of the apps, at 200 % zoom on a small laptop (QA s15).

The window is 683×340 CSS px (a 1366×768 screen at 200 % zoom). Checked with the
accessibility tree (``aria_snapshot``) and the DOM, as a keyboard user and a screen
reader meet them:

- home: the "Open another project" / "Create a new project" / "Add videos" section
  headers are reached with Tab, are buttons with ``aria-expanded``, and Enter and
  Space open and close them (#5); the page title names the app (#8);
- train: Start training pressed from the keyboard hands the focus to Stop training,
  which shows a focus ring of 2 px, and Stop, disabled when the run ends, hands it to
  the status line (#10, #13); the status is a live region, the
  selected toggle button says it is pressed, the header links are underlined and
  13 px or more, the curves scroll instead of being cut, no Bokeh logo link (#8, #11,
  #13);
- viewer: the sliders and the Play/Stop/Repeat buttons have names (#8).
"""

from __future__ import annotations

import re
import time

import pytest

from posekit.engine.dataset import create_training_dataset
from posekit.engine.demo import make_demo_project

from conftest import NOTEBOOKS  # isort: skip  (tests/browser is on sys.path)

pytestmark = pytest.mark.browser

#: 1366×768 at 200 % zoom, less the browser's own bars.
SMALL = {"width": 683, "height": 340}

#: The element that really has the focus, through shadow roots.
FOCUSED_JS = """() => {
  let e = document.activeElement;
  while (e && e.shadowRoot && e.shadowRoot.activeElement) { e = e.shadowRoot.activeElement; }
  const cs = getComputedStyle(e);
  return {tag: e.tagName, text: (e.innerText || "").trim(), role: e.getAttribute("role"),
          expanded: e.getAttribute("aria-expanded"), outline: cs.outlineStyle,
          outlineWidth: parseFloat(cs.outlineWidth), outlineColor: cs.outlineColor};
}"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    p = make_demo_project(tmp_path_factory.mktemp("a11y"), n_frames=60, n_labeled=12)
    create_training_dataset(p)
    return p


@pytest.fixture(scope="module")
def server(voila_server, project, tmp_path_factory):
    """Voila in tree mode on notebooks/, as `make app` serves it."""
    return voila_server(
        NOTEBOOKS,
        cwd=NOTEBOOKS,
        env={
            "POSEKIT_PROJECT": str(project.path),
            "POSEKIT_DEMO_DIR": str(tmp_path_factory.mktemp("unused-demo")),
        },
        timeout=120,
    )


def _open(page, server, app: str, ready: str) -> None:
    page.set_viewport_size(SMALL)
    page.goto(
        f"{server.url}voila/render/{app}.ipynb",
        wait_until="domcontentloaded",
        timeout=90_000,
    )
    page.wait_for_selector(ready, timeout=180_000)
    # the page script has run (it sets the title) and caught up with the page
    page.wait_for_function(
        "t => document.title === t", arg=f"posekit · {APP_TITLES[app]}", timeout=30_000
    )
    page.wait_for_timeout(300)


APP_TITLES = {"home": "Home", "train": "Train", "viewer": "Trajectories"}


def _focused(page) -> dict:
    return page.evaluate(FOCUSED_JS)


def test_home_sections_open_and_close_from_the_keyboard(server, page) -> None:
    """QA s15 #5: the three sections were out of reach of Tab and silent."""
    _open(page, server, "home", ".posekit-home a.posekit-app-link")
    header = page.locator(
        ".jupyter-widget-Collapse-header", has_text="Create a new project"
    )
    assert header.get_attribute("role") == "button"
    assert header.get_attribute("aria-expanded") == "false"
    page.locator("a.posekit-app-link").last.focus()
    for _ in range(6):  # Tab goes on from the workflow links to the sections
        page.keyboard.press("Tab")
        if _focused(page)["text"] == "Create a new project":
            break
    focused = _focused(page)
    assert focused["text"] == "Create a new project", focused
    assert focused["role"] == "button" and focused["expanded"] == "false"
    assert focused["outline"] == "solid" and focused["outlineWidth"] >= 2
    page.keyboard.press("Enter")
    task = page.get_by_role("textbox", name="task")
    task.wait_for(state="visible", timeout=10_000)
    page.wait_for_function(
        "el => el.getAttribute('aria-expanded') === 'true'",
        arg=header.element_handle(),
        timeout=10_000,
    )
    snapshot = page.locator(".posekit-home").aria_snapshot()
    assert re.search(r'button "\W*Create a new project" \[expanded\]', snapshot), (
        snapshot
    )
    page.keyboard.press(" ")
    task.wait_for(state="hidden", timeout=10_000)
    page.wait_for_function(
        "el => el.getAttribute('aria-expanded') === 'false'",
        arg=header.element_handle(),
        timeout=10_000,
    )
    # what a button does is announced
    assert page.locator(".posekit-home [role=status][aria-live=polite]").count() >= 1
    assert page.posekit_errors == []


def test_train_keyboard_start_focuses_stop(server, page) -> None:
    """QA s15 #10 (focus to body), #8, #11, #13 in the Train app."""
    _open(page, server, "train", ".posekit-train-curves canvas")
    dash = ".posekit-training-dashboard"
    # live region, pressed toggle, scrollable curves, no logo link, readable links
    status = page.locator(f"{dash} .posekit-train-status")
    assert status.get_attribute("role") == "status"
    assert status.get_attribute("aria-live") == "polite"
    # the workshop default is a time budget (QA s17); the toggle says which is on
    iterations = page.get_by_role("button", name="iterations", exact=True)
    budget = page.get_by_role("button", name="time budget")
    assert budget.get_attribute("aria-pressed") == "true"
    assert iterations.get_attribute("aria-pressed") == "false"
    iterations.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b =>"
        " b.textContent.trim() === 'iterations'"
        " && b.getAttribute('aria-pressed') === 'true')",
        timeout=10_000,
    )
    assert budget.get_attribute("aria-pressed") == "false"
    curves = page.locator(".posekit-train-curves")
    overflow = curves.evaluate(
        "e => [getComputedStyle(e).overflowX, e.scrollWidth, e.clientWidth]"
    )
    assert overflow[0] == "auto" and overflow[1] > overflow[2], overflow
    assert page.locator(".posekit-train-curves .bk-logo").count() == 0
    link = page.locator(".posekit-app-header a[data-app='home.ipynb']")
    style = link.evaluate(
        "e => [getComputedStyle(e).textDecorationLine,"
        " parseFloat(getComputedStyle(e).fontSize)]"
    )
    assert style[0] == "underline" and style[1] >= 13, style
    # a short, small training started with the keyboard
    for label, value in (("train to iteration", "3"), ("batch size (0: default)", "2")):
        box = page.locator(
            f"{dash} .widget-inline-hbox:has(label:text-is('{label}')) input"
        )
        box.fill(value)
        box.press("Enter")
    page.locator(
        f"{dash} .widget-dropdown:has(label:text-is('crop')) select"
    ).select_option(label="128×128")
    page.get_by_role("checkbox", name="evaluate when finished").uncheck()
    page.get_by_role("button", name="Start training").focus()
    page.keyboard.press("Space")
    deadline = time.monotonic() + 30
    while _focused(page)["text"] != "Stop training" and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    focused = _focused(page)
    assert focused["text"] == "Stop training", focused
    assert focused["outline"] == "solid" and focused["outlineWidth"] >= 2, focused
    # the run ends by itself: Stop disables itself and the focus goes to the status
    page.wait_for_function(
        "() => document.querySelector('.posekit-train-state')?.dataset.state"
        " === 'finished'",
        timeout=180_000,
    )
    page.wait_for_function(
        "() => document.activeElement?.closest('.posekit-train-status') != null",
        timeout=10_000,
    )
    assert page.posekit_errors == []


def test_viewer_sliders_and_play_buttons_have_names(server, page) -> None:
    """QA s15 #8: ``- slider`` and ``button ""`` with no name for a screen reader."""
    _open(page, server, "viewer", ".posekit-viewer .bk-Canvas")
    for name in ("frame", "p-cutoff", "window (frames)"):
        assert page.get_by_role("slider", name=name, exact=True).count() == 1, name
    for name in ("Play", "Stop", "Repeat"):
        assert page.get_by_role("button", name=name, exact=True).count() >= 1, name
    filters = page.locator(".widget-toggle-buttons button[aria-pressed=true]")
    assert filters.count() >= 1
    viewer = page.locator(".posekit-viewer")
    assert viewer.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    assert viewer.get_attribute("tabindex") == "0"  # the arrow keys scroll it
    assert page.posekit_errors == []

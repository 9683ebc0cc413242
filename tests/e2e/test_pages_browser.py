"""The plugin's pages in the real Airflow UI, driven by headless Chromium (Debian's /usr/bin/chromium).

A user signs in, opens the pages from Airflow's Browse menu, creates a workflow from a template
through the form and follows the link to its DAG. Screenshots go to test-artifacts/pages/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Frame, FrameLocator, Page, expect, sync_playwright

from automation.catalogue.templates import list_templates
from tests.conftest import ROOT
from tests.e2e.conftest import AirflowApi, wait_for
from tests.helpers import workflow

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.usefixtures("db")]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = ROOT / "test-artifacts" / "pages"
WIDE = {"width": 1400, "height": 900}
WAIT_MS = 90_000  # generous waits: the machine may be busy; nothing here measures speed
NARROW = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        expect.set_options(timeout=WAIT_MS)
        yield browser
        browser.close()


def new_page(browser: Browser, viewport: dict[str, int]) -> Page:
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(WAIT_MS)
    page.set_default_navigation_timeout(WAIT_MS)
    return page


def sign_in(page: Page, base: str, start: str = "/") -> None:
    page.goto(base + start)
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Sign in").click()


def collect_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    return errors


def open_from_nav(page: Page, item: str) -> FrameLocator:
    """Airflow's Browse menu -> one of the plugin's entries (shown in the UI's iframe)."""
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name=item).click()
    return page.frame_locator(f"iframe[title='{item}']")


def plugin_frame(page: Page) -> Frame:
    return next(f for f in page.frames if "/automation/ui/" in f.url)


def horizontal_overflow(target: Page | Frame) -> int:
    return target.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def both_widths(page: Page, save: Callable[[Page, str], None], name: str, target: Frame | None = None) -> None:
    """Screenshots at 1400 and 390 px (`<name>-1400`, `<name>-390`); at 390 px nothing scrolls sideways
    (in `target`, the plugin's frame, when the page is shown inside the Airflow UI)."""
    save(page, f"{name}-{WIDE['width']}")
    page.set_viewport_size(NARROW)
    assert horizontal_overflow(target or page) <= 0, f"{name} scrolls sideways at {NARROW['width']} px"
    save(page, f"{name}-{NARROW['width']}")
    page.set_viewport_size(WIDE)


def run_once(airflow: AirflowApi, key: str) -> None:
    """A real run of a workflow's DAG, to the end."""
    assert airflow.client.post("/automation/api/v1/workflows", json=workflow(key)).status_code == 201
    dag_id = f"automation__{key}"
    wait_for(lambda: airflow.dag(dag_id), 90, f"the DAG {dag_id}")
    run = airflow.post(f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": {"name": "Pages deal"}})

    def finished() -> str | None:
        try:
            state = airflow.get(f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}")["state"]
        except httpx.TimeoutException:  # a busy machine: ask again
            return None
        return state if state in {"success", "failed"} else None

    assert wait_for(finished, 300, f"the run of {dag_id}") == "success"


def test_stats_and_templates_from_the_airflow_nav_create_a_workflow_and_open_its_dag(
    airflow: AirflowApi, browser: Browser
) -> None:
    run_once(airflow, "pages-run")
    page = new_page(browser, WIDE)
    sign_in(page, airflow.base)
    expect(page.get_by_role("button", name="Browse")).to_be_visible()
    errors = collect_errors(page)  # after sign-in: the login page itself logs Airflow's own 401

    # stats, from the nav: the workflow that ran has a row with its numbers
    stats = open_from_nav(page, "Automation stats")
    row = stats.locator("tr[data-key='pages-run']")
    expect(row.locator("[data-col=total]")).to_have_text("1")
    expect(row.locator("[data-col=success-rate]")).to_have_text("100%")
    expect(row.locator("[data-col=p95]")).to_have_text(re.compile(r"^\d+(\.\d)? s$|min"))
    expect(row.get_by_role("link", name="DAG of pages-run")).to_have_attribute("href", "/dags/automation__pages-run")
    expect(stats.locator("svg.chart").first).to_be_visible()
    expect(stats.locator("svg.sparkline").first).to_be_visible()
    both_widths(page, shot, "stats", plugin_frame(page))

    # templates, from the nav: one card per template of the catalogue
    catalogue = list_templates()
    templates = open_from_nav(page, "Automation templates")
    expect(templates.locator("li.card")).to_have_count(len(catalogue))
    alert = templates.locator("li.card[data-template='large-deal-alert']")
    expect(alert).to_contain_text("deals created/updated (amount)")
    expect(alert.locator("ol li")).to_have_count(2)
    shot(page, f"templates-{WIDE['width']}")

    # the form: a bad key is shown next to the field, what was typed is kept
    alert.get_by_role("link", name="Large deal alert").click()
    form = templates.locator("form[method=post]")
    form.get_by_label("Workflow key").fill("Bad Key")
    form.get_by_label("Manager email").fill("ops@example.com")
    form.get_by_label("Threshold").fill("75000")
    form.get_by_role("button", name="Create").click()
    expect(templates.locator("#f-key-error")).to_be_visible()
    expect(templates.get_by_label("Workflow key")).to_have_attribute("aria-invalid", "true")
    expect(templates.get_by_label("Workflow key")).to_have_value("Bad Key")
    expect(templates.get_by_label("Manager email")).to_have_value("ops@example.com")
    shot(page, "template-form-error")

    templates.get_by_label("Workflow key").fill("pages-alert")
    templates.get_by_role("button", name="Create").click()
    expect(templates.locator("#created")).to_contain_text("created from the template")
    shot(page, "template-created")
    stored = airflow.client.get("/automation/api/v1/workflows/pages-alert").json()
    assert stored["status"] == "ACTIVE" and stored["definition"]["steps"][1]["config"]["to"] == "ops@example.com"
    assert stored["definition"]["conditions"]["all"][0]["value"] == 75000

    # its DAG appears in Airflow, and the link leads there (the Airflow UI, not inside the frame)
    dag = wait_for(lambda: airflow.dag("automation__pages-alert"), 90, "the new DAG")
    assert dag["is_paused"] is False
    templates.get_by_role("link", name="Open the DAG in Airflow").click()
    page.wait_for_url(f"{airflow.base}/dags/automation__pages-alert")
    expect(page.locator("iframe")).to_have_count(0)
    expect(page.get_by_text("Large deal alert").first).to_be_visible()
    shot(page, "dag-page")
    assert errors == []


@pytest.mark.parametrize(
    "path",
    [
        "stats",
        "templates",
        "templates/large-deal-alert",
        "workflows",
        "workflows/pages-narrow",
        "editor/new",
        "workflows/pages-narrow/duplicate",
        "workflows/pages-narrow/delete",
        "workflows/pages-narrow/run",
    ],
)
def test_pages_fit_a_phone_and_work_with_the_keyboard(airflow: AirflowApi, browser: Browser, path: str) -> None:
    assert airflow.client.post("/automation/api/v1/workflows", json=workflow("pages-narrow")).status_code == 201
    page = new_page(browser, NARROW)
    url = f"/automation/ui/{path}"
    sign_in(page, airflow.base, url)  # straight to the page: login, then back to it
    page.wait_for_url(airflow.base + url)
    errors = collect_errors(page)
    page.reload()
    expect(page.locator("main h1")).to_be_visible()
    assert horizontal_overflow(page) <= 0
    shot(page, f"narrow-{path.replace('/', '-')}")

    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(el => el.labels.length === 0).map(el => el.name)"
    )
    assert unlabelled == []
    page.keyboard.press("Tab")
    focused: dict[str, Any] = page.evaluate(
        "(() => { const el = document.activeElement; const s = getComputedStyle(el);"
        " return {text: el.textContent, outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; })()"
    )
    assert focused["text"] == "Skip to content" and focused["outline"] != "none" and focused["width"] >= 2
    assert errors == []


def _cookie_client(airflow: AirflowApi, username: str = "admin") -> httpx.Client:
    """A browser-like client: the UI's session cookie, no bearer token."""
    token = httpx.post(f"{airflow.base}/auth/token", json={"username": username, "password": username}).json()
    return httpx.Client(base_url=airflow.base, cookies={"_token": token["access_token"]}, timeout=30)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the form has no CSRF token"
    return match.group(1)


def test_pages_need_a_session_edit_access_and_a_same_origin_form(airflow: AirflowApi) -> None:
    page_url = "/automation/ui/templates/large-deal-alert"
    anonymous = httpx.get(f"{airflow.base}/automation/ui/stats", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/api/v2/auth/login?next=%2Fautomation%2Fui%2Fstats"

    admin = _cookie_client(airflow)
    form_page = admin.get(page_url)
    assert form_page.status_code == 200 and "text/html" in form_page.headers["content-type"]
    fields = {"csrf_token": _csrf(form_page.text), "key": "csrf-made", "parameters.threshold": "1000"}
    same_origin = {"Origin": airflow.base}

    # a viewer reads the catalogue but gets no form, and cannot create
    viewer = _cookie_client(airflow, "viewer")
    viewer_page = viewer.get(page_url)
    assert (
        viewer_page.status_code == 200 and 'id="read-only"' in viewer_page.text and "csrf_token" not in viewer_page.text
    )
    refused = viewer.post(page_url, data=fields, headers=same_origin)
    assert refused.status_code == 403 and "Not allowed" in refused.text

    # posts from another site, without the token, or with a bearer token and no session are refused
    assert admin.post(page_url, data=fields, headers={"Origin": "http://evil.example"}).status_code == 403
    assert admin.post(page_url, data={**fields, "csrf_token": "1.forged"}, headers=same_origin).status_code == 403
    bearer_only = airflow.client.post(page_url, data=fields, headers=same_origin)
    assert bearer_only.status_code == 403 and "another site" in bearer_only.text
    assert airflow.client.get("/automation/api/v1/workflows/csrf-made").status_code == 404

    created = admin.post(page_url, data=fields, headers=same_origin, follow_redirects=False)
    assert created.status_code == 303
    assert created.headers["location"] == "/automation/ui/workflows/csrf-made?created=large-deal-alert"
    detail = admin.get(created.headers["location"])
    assert detail.status_code == 200 and "automation__csrf-made" in detail.text

    conflict = admin.post(page_url, data=fields, headers=same_origin)
    assert conflict.status_code == 200 and 'id="f-key-error"' in conflict.text and "already exists" in conflict.text

    # unknown things and bad input are pages, not JSON or tracebacks
    for path, status in [
        ("/automation/ui/templates/nope", 404),
        ("/automation/ui/workflows/nope", 404),
        ("/automation/ui/workflows/csrf-made?from=abc", 400),
    ]:
        response = admin.get(path)
        assert response.status_code == status and response.headers["content-type"].startswith("text/html"), path
        assert "Traceback" not in response.text

"""The apps' server as ``make app`` starts it (``posekit.widgets.serve``), in chromium.

- An app that cannot open shows the error's message in the page, in the words of the
  command line (a broken ``config.yaml``: the ``ProjectError`` message; a folder
  outside the data root: the data root's refusal), not Voila's "There was an error
  when executing cell".
- Kernels do not pile up: walking home → label → train → analyze → trajectories →
  behaviour → home twice in one tab leaves at most two kernels alive at any time,
  the server and its kernels stay under 2 GB, and the kernel of a page that went away
  without saying so (no unload beacon) is culled.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import NOTEBOOKS, free_port

from posekit.engine.demo import make_demo_project

pytestmark = pytest.mark.browser

TOKEN = "browser-test-token"
CULL_IDLE_S = 20
CULL_INTERVAL_S = 5
WALK = ["label", "train", "analyze", "viewer", "behavior", "home"]
ROUNDS = 2
MAX_KERNELS = 2
MAX_TOTAL_BYTES = 2 * 1024**3


class Server:
    """The apps' server started by ``python -m posekit.widgets.serve``."""

    def __init__(self, proc: subprocess.Popen, port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    def url(self, app: str, **params: str) -> str:
        """Address of an app page with the token."""
        query = "&".join(f"{k}={v}" for k, v in {**params, "token": TOKEN}.items())
        return f"http://127.0.0.1:{self.port}/voila/render/{app}.ipynb?{query}"

    def processes(self) -> list[psutil.Process]:
        """Return the server and every process below it."""
        root = psutil.Process(self.proc.pid)
        return [root, *root.children(recursive=True)]

    def kernels(self) -> list[psutil.Process]:
        """Return the live kernel processes, one per kernel.

        A kernel that starts a subprocess (ffmpeg, a shell) forks first: until the
        child execs, it has the kernel's command line. Kernels are therefore told
        apart by their connection file (``-f kernel-<id>.json``): a fork is not
        counted again.
        """
        found: dict[str, psutil.Process] = {}
        for p in self.processes()[1:]:
            with contextlib.suppress(psutil.Error):
                cmd = p.cmdline()
                if "ipykernel" not in " ".join(cmd) or p.status() == "zombie":
                    continue
                key = next((a for a in cmd if a.endswith(".json")), str(p.pid))
                found.setdefault(key, p)
        return list(found.values())

    def rss_bytes(self) -> int:
        """Resident memory of the server and all its kernels (and their children)."""
        total = 0
        for p in self.processes():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    """Build the data root: a demo project, and a copy with a broken config.yaml."""
    root = tmp_path_factory.mktemp("data-root")
    make_demo_project(root / "demo", n_frames=60, n_labeled=6)
    good = next((root / "demo").glob("*/config.yaml")).parent
    broken = root / "broken" / good.name
    broken.parent.mkdir()
    shutil.copytree(good, broken)
    with open(broken / "config.yaml", "a") as fh:
        fh.write("skeleton: [unclosed\n")
    return root


@pytest.fixture(scope="module")
def server(data_root, tmp_path_factory):
    """Run the apps' server on the repository's notebooks, with a short cull timeout."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    project = next((data_root / "demo").glob("*/config.yaml")).parent
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "POSEKIT_TOKEN": TOKEN,
        "POSEKIT_PROJECT": str(project),
        "POSEKIT_DEMO_DIR": str(data_root / "demo"),
        "POSEKIT_DATA_ROOT": str(data_root),
    }
    cmd = [
        sys.executable,
        "-m",
        "posekit.widgets.serve",
        str(NOTEBOOKS),
        f"--port={port}",
        f"--cull-idle-timeout={CULL_IDLE_S}",
        f"--cull-interval={CULL_INTERVAL_S}",
    ]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        while "running at" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield Server(proc, port, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _error_text(page) -> str:
    page.wait_for_selector(".posekit-app-error .posekit-error-message", timeout=90_000)
    text = page.inner_text(".posekit-app-error")
    assert "There was an error when executing cell" not in page.content()
    assert "Traceback" not in page.content()
    return text


def test_broken_config_shows_the_project_error_in_the_page(server, page, data_root):
    broken = next((data_root / "broken").glob("*/config.yaml")).parent
    page.goto(server.url("train", project=str(broken)), wait_until="domcontentloaded")
    text = _error_text(page)
    assert "The app could not open." in text
    assert f"{broken / 'config.yaml'} is not valid YAML" in text
    assert "Fix the file by hand or restore it from a backup" in text
    assert "(the project came from the page address)" in text


def test_folder_outside_the_data_root_is_refused_in_the_page(server, page, tmp_path):
    outside = make_demo_project(tmp_path, n_frames=30, n_labeled=4)
    page.goto(
        server.url("label", project=str(outside.path)), wait_until="domcontentloaded"
    )
    text = _error_text(page)
    assert (
        f"The project {outside.path} is outside the folders the apps may open" in text
    )


def test_home_address_keeps_the_opened_project(server, page, data_root):
    """QA s14 #7: after Open, a reload or Back shows that project, not the first."""
    other = make_demo_project(data_root / "other", n_frames=30, n_labeled=2)
    page.goto(server.url("home"), wait_until="domcontentloaded")
    _wait_ready(page, "home")
    assert str(other.path) not in page.inner_text(".posekit-project-path")
    page.get_by_text("Open another project").click()
    page.get_by_placeholder("folder with config.yaml").fill(str(other.path))
    page.get_by_role("button", name=re.compile(r"^\W*Open$")).click()
    page.wait_for_function(
        "p => new URL(location.href).searchParams.get('project') === p",
        arg=str(other.path),
        timeout=30_000,
    )
    assert "token=" in page.url  # the other parameters stay
    assert page.inner_text(".posekit-project-path").strip() == str(other.path)
    page.reload(wait_until="domcontentloaded")
    _wait_ready(page, "home")
    assert page.inner_text(".posekit-project-path").strip() == str(other.path)
    _go(page, "label")
    _wait_ready(page, "label")
    page.go_back(wait_until="domcontentloaded")
    _wait_ready(page, "home")
    assert page.inner_text(".posekit-project-path").strip() == str(other.path)


def _wait_ready(page, app: str) -> None:
    """Wait until the app's page is rendered (its links are shown when it is built)."""
    selector = (
        ".posekit-home a.posekit-app-link"
        if app == "home"
        else ".posekit-app-header a[data-app='home.ipynb']"
    )
    page.wait_for_selector(selector, timeout=180_000)
    assert not page.query_selector(".posekit-app-error"), page.inner_text("body")


def _go(page, target: str) -> None:
    """Follow the link of the page to ``target`` (as a user does)."""
    link = page.locator(f"a[data-app='{target}.ipynb']").first
    with page.expect_navigation(wait_until="domcontentloaded", timeout=120_000):
        link.click()


class _Sampler(threading.Thread):
    """Count the kernels and the memory in the background, every 0.2 s."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.max_kernels = 0
        self.peak_bytes = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.max_kernels = max(self.max_kernels, len(self.server.kernels()))
            self.peak_bytes = max(self.peak_bytes, self.server.rss_bytes())


def _wait_until_culled(server: Server) -> None:
    """Wait until no kernel is left (pages closed without the beacon are culled)."""
    deadline = time.monotonic() + CULL_IDLE_S + 3 * CULL_INTERVAL_S + 15
    while server.kernels() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert server.kernels() == [], server.log.read_text()[-3000:]


@pytest.mark.slow
def test_kernels_do_not_pile_up(server, page, tmp_path) -> None:
    # the pages of the tests before were closed without the unload beacon (Playwright
    # does not run beforeunload on close): their kernels go by culling
    _wait_until_culled(server)
    page.goto(server.url("home"), wait_until="domcontentloaded")
    _wait_ready(page, "home")
    sampler = _Sampler(server)
    sampler.start()
    samples = []
    try:
        for round_ in range(ROUNDS):
            for app in WALK:
                _go(page, app)
                _wait_ready(page, app)
                kernels = server.kernels()
                samples.append(
                    {
                        "round": round_,
                        "app": app,
                        "kernels": len(kernels),
                        "rss_mb": round(server.rss_bytes() / 2**20),
                    }
                )
                assert len(kernels) <= MAX_KERNELS, samples[-3:]
                assert sampler.max_kernels <= MAX_KERNELS, samples[-3:]
    finally:
        sampler.stop.set()
        sampler.join()
    peak = round(sampler.peak_bytes / 2**20)
    # the last page's kernel is alive; the others were shut down by the unload beacon
    deadline = time.monotonic() + 15
    while len(server.kernels()) > 1 and time.monotonic() < deadline:
        time.sleep(0.25)
    final = len(server.kernels())
    summary = {
        "page_loads": len(samples) + 1,
        "max_kernels": sampler.max_kernels,
        "kernels_at_end": final,
        "peak_rss_mb": peak,
        "samples": samples,
    }
    (tmp_path / "kernels.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "samples"}))
    assert final <= 1
    assert sampler.max_kernels <= MAX_KERNELS, summary
    assert sampler.peak_bytes < MAX_TOTAL_BYTES, summary

    # a page that goes away without the unload beacon (a crashed browser): culled
    page.close(run_before_unload=False)
    assert len(server.kernels()) == 1
    _wait_until_culled(server)
    assert re.search(r"Culling '\w+' kernel", server.log.read_text())

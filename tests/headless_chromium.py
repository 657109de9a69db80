"""Open a page in real headless Chromium and record what happened: requests, console, errors, a screenshot.

Talks the DevTools protocol over the pipe Chromium offers with --remote-debugging-pipe
(commands on its fd 3, replies on its fd 4, messages ended by NUL), so no extra package is needed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import math
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH = 1280


def find_chromium() -> str | None:
    """The first Chromium-like browser on PATH, or None."""
    return next((path for path in map(shutil.which, CANDIDATES) if path), None)


@dataclass
class PageVisit:
    """What loading one page produced."""

    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    screenshot: bytes = b""
    height: int = 0


class Chromium:
    """One headless browser process driven over its DevTools pipe."""

    def __init__(self, executable: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="inception-score-chromium-")
        self._log = open(Path(self._profile) / "chromium.log", "wb")
        command_read, self._command_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        # Copies at fd 5+ (close-on-exec) so the child can move them to fds 3 and 4 without clobbering.
        child_in, child_out = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5) for fd in (command_read, reply_write))
        os.close(command_read)
        os.close(reply_write)
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            "--no-first-run",
            "--no-default-browser-check",
            "--mute-audio",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={self._profile}",
            "about:blank",
        ]

        def pipes_to_fds_3_and_4() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self._process = subprocess.Popen(
            [executable, *flags],
            preexec_fn=pipes_to_fds_3_and_4,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
        )
        os.close(child_in)
        os.close(child_out)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        for fd in (self._command_write, self._reply_read):
            try:
                os.close(fd)
            except OSError:
                pass
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def log_text(self) -> str:
        self._log.flush()
        return (Path(self._profile) / "chromium.log").read_text(errors="replace")[-4000:]

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its reply; events seen meanwhile go to self.events."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._command_write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})

    def wait_for(self, method: str) -> dict[str, Any]:
        """The first event named `method`, already seen or still to come."""
        seen = len(self.events)
        for event in self.events:
            if event["method"] == method:
                return event
        while True:
            self._receive()
            for event in self.events[seen:]:
                if event["method"] == method:
                    return event
            seen = len(self.events)

    def _receive(self) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._reply_read], [], [], left)[0]:
                raise TimeoutError(f"no answer from Chromium in {self.timeout} s; its log:\n{self.log_text()}")
            chunk = os.read(self._reply_read, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed its DevTools pipe; its log:\n{self.log_text()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            self.events.append(message)
        return message


METRICS_SCRIPT = """JSON.stringify([...document.querySelectorAll('[data-metric]')].map(element => ({
  metric: element.dataset.metric, value: element.dataset.value ?? null,
  low: element.dataset.low ?? null, high: element.dataset.high ?? null,
  text: (element.querySelector(':scope > .value') || element).textContent.trim()})))"""


def visit(executable: str, page: Path) -> PageVisit:
    """Load `page` at 1280 px wide, then read its data-metric elements and take a full-page screenshot."""
    result = PageVisit()
    with Chromium(executable) as browser:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            browser.call(f"{domain}.enable", session)
        browser.call(
            "Emulation.setDeviceMetricsOverride", session, width=WIDTH, height=900, deviceScaleFactor=1, mobile=False
        )
        browser.call("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        settled = browser.call(
            "Runtime.evaluate",
            session,
            awaitPromise=True,
            returnByValue=True,
            expression="document.fonts.ready.then(() => new Promise(r => "
            "requestAnimationFrame(() => requestAnimationFrame(() => r(1)))))",
        )
        assert settled["result"]["value"] == 1
        metrics = browser.call("Runtime.evaluate", session, expression=METRICS_SCRIPT, returnByValue=True)
        result.metrics = json.loads(metrics["result"]["value"])
        layout = browser.call("Page.getLayoutMetrics", session)
        result.height = math.ceil(layout["cssContentSize"]["height"])
        shot = browser.call(
            "Page.captureScreenshot",
            session,
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": WIDTH, "height": result.height, "scale": 1},
        )
        result.screenshot = base64.b64decode(shot["data"])
        _collect(browser.events, result)
    return result


def _collect(events: list[dict[str, Any]], result: PageVisit) -> None:
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            result.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            result.failed_requests.append(f"{params.get('errorText')} ({params.get('blockedReason')})")
        elif method == "Network.responseReceived" and params["response"].get("status", 200) >= 400:
            result.failed_requests.append(f"{params['response']['url']}: HTTP {params['response']['status']}")
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert", "warning"):
            result.console_errors.append(
                " ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            result.console_errors.append(params["exceptionDetails"].get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            result.console_errors.append(f"{params['entry']['source']}: {params['entry']['text']}")

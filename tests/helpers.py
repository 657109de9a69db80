"""Helpers shared by the test modules (imported as `from helpers import ...`)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(
    *args,
    prefix: tuple = (),
    command: tuple | None = None,
    cwd: str | Path | None = None,
    process: bool = False,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """Run the command line with ARGS and return its exit code, stdout and stderr.

    By default `inception_score.cli.main` runs in this process (the same code, without the
    second or two a new interpreter spends importing torch), so that the fast tier can check
    every error message. process=True, or any of prefix (words before the interpreter, e.g. a
    `ulimit` wrapper), command (e.g. the console script) or cwd, starts a real process instead.
    """
    words = [str(arg) for arg in args]
    if process or prefix or command or cwd is not None:
        return _in_a_process(words, prefix, command, cwd, timeout)
    from inception_score.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main(words)
        except SystemExit as exit_:  # argparse's usage errors and --version
            code = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(words, code, stdout.getvalue(), stderr.getvalue())


def _in_a_process(words, prefix, command, cwd, timeout) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if cwd is not None:  # keep the tested code first on the path when running elsewhere
        paths = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(cwd)])
    full = [*prefix, *(command or (sys.executable, "-m", "inception_score")), *words]
    return subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def without_root_powers() -> tuple[str, ...]:
    """Words before the interpreter that make a root process obey file permissions (none needed otherwise):
    setpriv drops the capabilities that let root read and write past them. Skips the test without setpriv."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and setpriv (util-linux) is missing: root writes into read-only folders")
    return (setpriv, "--bounding-set", "-dac_override,-dac_read_search")


class MisbehavingServer:
    """A real HTTP server on 127.0.0.1 (port 0) that serves `bodies[NAME]` under /KIND/NAME, well or badly.

    files: the body (HTTP Range supported); slow: the same, a tenth at a time over about a second;
    truncated: half the body under the full Content-Length; short: a Content-Length of half the body
    (the rest is never read); nolength: half the body, no Content-Length; html: a 200 HTML error page;
    stall: half the body, then silence for `stall_s`; refuse-range: 416 for any Range request;
    redirect: 302 to /files/NAME; anything else (or an unknown NAME) 404. `gets` counts requests by
    KIND/NAME, `ranges` lists the Range headers received.
    """

    def __init__(self, stall_s: float = 30.0) -> None:
        import http.server
        import threading

        self.bodies: dict[str, bytes] = {}
        self.gets: dict[str, int] = {}
        self.ranges: list[str] = []
        self.stall_s = stall_s
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  # http.server's name
                kind, _, name = self.path.strip("/").partition("/")
                with server._lock:
                    server.gets[f"{kind}/{name}"] = server.gets.get(f"{kind}/{name}", 0) + 1
                body = server.bodies.get(name)
                try:
                    server._answer(self, kind, name, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up: what a stalled or refused download does

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, handler, kind: str, name: str, body: bytes | None) -> None:
        import time

        if body is None or kind not in {
            "files", "slow", "truncated", "short", "nolength", "html", "stall", "refuse-range", "redirect"
        }:  # fmt: skip
            handler.send_error(404)
            return
        asked = handler.headers.get("Range")
        if asked:
            with self._lock:
                self.ranges.append(asked)
        if kind == "redirect":
            handler.send_response(302)
            handler.send_header("Location", f"/files/{name}")
            handler.end_headers()
            return
        if kind == "html":
            page = b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>"
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            handler.wfile.write(page)
            return
        if kind == "refuse-range" and asked:
            handler.send_error(416)
            return
        start = int(asked.split("=")[1].rstrip("-")) if asked and kind in ("files", "slow") else 0
        handler.send_response(206 if start else 200)
        if start:
            handler.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        rest = body[start:]
        half = rest[: len(rest) // 2]
        length = {"truncated": len(rest), "short": len(half), "nolength": None, "stall": len(rest)}.get(kind, len(rest))
        if length is not None:
            handler.send_header("Content-Length", str(length))
        handler.end_headers()
        if kind in ("truncated", "nolength", "short"):
            handler.wfile.write(half)
            handler.close_connection = True
        elif kind == "stall":
            handler.wfile.write(half)
            handler.wfile.flush()
            time.sleep(self.stall_s)
        elif kind == "slow":
            step = max(1, len(rest) // 10)
            for offset in range(0, len(rest), step):
                handler.wfile.write(rest[offset : offset + step])
                handler.wfile.flush()
                time.sleep(0.1)
        else:
            handler.wfile.write(rest)

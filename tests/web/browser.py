"""Serving a page on a free localhost port and opening it in headless Chromium: what the tests
of tests/web share (test_page.py: the demo page; test_pyodide_page.py: Pyodide's).

:func:`drive` serves directories under URL prefixes, runs web/tests/drive.mjs (playwright-core
driving /usr/bin/chromium, or ``$CHROMIUM``) on one page of them and returns the driver's
report: what the page put in ``window.wasmcoreDemo``, every console error or warning, page
error and failed request, and the content type of the ``.wasm`` it fetched.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import urllib.parse
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Files from the directory mounted at the longest prefix of the request's path."""

    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm",
        ".js": "text/javascript",
        ".mjs": "text/javascript",
    }

    def __init__(self, *args: Any, mounts: dict[str, Path], **kwargs: Any) -> None:
        self.mounts = mounts
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        url = urllib.parse.urlsplit(path).path
        prefix = max((p for p in self.mounts if url.startswith(p)), key=len, default=None)
        if prefix is None:
            return str(ROOT / "no such file")
        self.directory = str(self.mounts[prefix])
        return super().translate_path("/" + url[len(prefix):])

    def log_message(self, format: str, *args: Any) -> None:
        pass


def drive(mounts: dict[str, Path], page: str, screenshot: Path, timeout: int = 90) -> Any:
    """The driver's report on ``page`` (a path and query), served from ``mounts`` (URL prefix,
    ending in "/", -> directory); the page's full screenshot goes to ``screenshot``."""
    node = shutil.which("node")
    if node is None or not Path(CHROMIUM).is_file():
        pytest.fail(f"needs node and {CHROMIUM}: run `just setup-web`")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, mounts=mounts))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    screenshot.unlink(missing_ok=True)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{page}"
        proc = subprocess.run(
            [node, str(ROOT / "web" / "tests" / "drive.mjs"), url, str(screenshot),
             str(timeout)],
            capture_output=True,
            text=True,
            timeout=2 * timeout,
            check=False,
            env={**os.environ, "CHROMIUM": CHROMIUM},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, f"driver failed:\n{proc.stderr}"
    return json.loads(proc.stdout)

"""Headless Debian Chromium driven over the Chrome DevTools protocol (a small client on websocket-client).

``with Browser.start(tmp_path) as browser: browser.goto(url); browser.wait("document.title")``.
Missing Chromium skips locally and fails under ``CI=true`` (scripts/install-tools.sh installs it).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websocket

ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--window-size=1500,1000",
)


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (bash scripts/install-tools.sh installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


class Browser:
    def __init__(self, process: subprocess.Popen[bytes], socket: websocket.WebSocket) -> None:
        self.process = process
        self.socket = socket
        self.ids = itertools.count(1)
        self.console: list[str] = []

    @classmethod
    def start(cls, tmp: Path) -> Browser:
        profile = tmp / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [chromium_path(), *ARGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("chromium did not open its DevTools port within 30s")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        page = next(t for t in targets if t.get("type") == "page")
        socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        browser = cls(process, socket)
        browser.send("Page.enable")
        browser.send("Runtime.enable")
        return browser

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("method") == "Runtime.consoleAPICalled":
                self.console.append(
                    " ".join(str(a.get("value", a.get("description", ""))) for a in message["params"]["args"])
                )
            elif message.get("method") == "Runtime.exceptionThrown":
                self.console.append("exception: " + json.dumps(message["params"]["exceptionDetails"])[:2000])
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 20) -> Any:
        """The first truthy value of ``expression``, polled; fails with the page's console when it never is."""
        deadline = time.monotonic() + timeout
        problem = ""
        while time.monotonic() < deadline:
            try:
                value = self.eval(f"(() => {{ const v = ({expression}); return v instanceof Node ? true : v; }})()")
            except RuntimeError as error:  # the page is still loading (no body yet) or navigating
                problem, value = str(error)[:300], None
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression!r} ({problem}); console: {self.console[-10:]}")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

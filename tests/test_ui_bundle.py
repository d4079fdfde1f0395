"""The committed bundles (package data and manifests/ui) are exactly what ``make ui`` builds from ui/src."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILT = ("freightyard-ui.js", "extension-freightyard.js", "index.html")


@pytest.mark.integration  # runs node
def test_committed_bundles_equal_a_fresh_build(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is missing: the UI bundles cannot be checked")
        pytest.skip("node is not installed")
    subprocess.run([node, str(ROOT / "scripts" / "build-ui.mjs"), "--out", str(tmp_path)], check=True, timeout=60)
    for name in BUILT:
        fresh = (tmp_path / name).read_text()
        assert (ROOT / "controller" / "ui" / name).read_text() == fresh, f"controller/ui/{name} is stale: make ui"
    assert (ROOT / "manifests" / "ui" / "extension-freightyard.js").read_text() == (
        tmp_path / "extension-freightyard.js"
    ).read_text()
    extension = (tmp_path / "extension-freightyard.js").read_text()
    assert "window.React" in extension and "React.version" not in extension  # Argo CD's React, none bundled
    assert "http" not in extension.replace("http://www.w3.org/2000/svg", "")  # no CDN, no absolute URL

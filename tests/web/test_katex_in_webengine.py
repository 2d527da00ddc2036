"""KaTeX installed from npm by the setup step really typesets math inside QtWebEngine."""

from __future__ import annotations

import asyncio

import pytest

from app.gui.web_probe import katex_typesets
from app.resources import katex_dir

pytestmark = pytest.mark.web


def test_katex_assets_were_installed_by_setup() -> None:
    directory = katex_dir()
    assert directory is not None, "resources/web/node_modules is missing: run scripts/setup"
    assert (directory / "katex.min.css").is_file()
    assert any((directory / "fonts").glob("KaTeX_Main-Regular.woff2"))


def test_katex_renders_a_fraction_in_a_real_web_page(qt_loop: asyncio.AbstractEventLoop) -> None:
    html = qt_loop.run_until_complete(katex_typesets())
    assert 'class="katex"' in html
    assert 'class="mfrac"' in html

"""Checks that QtWebEngine runs and KaTeX from resources/web typesets math."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QUrl
from PySide6.QtWebEngineCore import QWebEnginePage

from app.resources import katex_dir

_TIMEOUT_S = 30.0
_PROBE_HTML = """<!doctype html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'">
<script src="katex.min.js"></script></head><body></body></html>"""


async def katex_typesets() -> str:
    """Load KaTeX in a web page and render a fraction. Returns KaTeX's HTML; raises on failure."""
    directory = katex_dir()
    if directory is None:
        raise RuntimeError("KaTeX is not installed (run scripts/setup)")
    loop = asyncio.get_running_loop()
    loaded: asyncio.Future[bool] = loop.create_future()
    result: asyncio.Future[object] = loop.create_future()
    page = QWebEnginePage()

    def on_loaded(ok: bool) -> None:
        if not loaded.done():
            loaded.set_result(ok)

    def on_result(value: object) -> None:
        if not result.done():
            result.set_result(value)

    page.loadFinished.connect(on_loaded)
    try:
        page.setHtml(_PROBE_HTML, QUrl.fromLocalFile(str(directory) + "/"))
        if not await asyncio.wait_for(loaded, _TIMEOUT_S):
            raise RuntimeError("the web page with KaTeX failed to load")
        page.runJavaScript(
            "typeof katex === 'undefined' ? 'katex missing' : "
            "katex.renderToString('\\\\frac{a}{b}', {throwOnError: false, trust: false})",
            0,
            on_result,
        )
        value = await asyncio.wait_for(result, _TIMEOUT_S)
    finally:
        page.deleteLater()
    if not isinstance(value, str) or 'class="katex"' not in value:
        raise RuntimeError(f"KaTeX did not typeset math: {str(value)[:80]!r}")
    return value

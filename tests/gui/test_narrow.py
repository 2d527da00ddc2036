"""Usable at 720 × 560: the window may be that small, the chat list folds away, and the
composer, Send, the model picker and the meter are whole (inside the window, no text cut, not
overlapping), at scale factor 1 and 2 (the second in a subprocess with QT_SCALE_FACTOR=2)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from tests.gui.test_chat_window import close, make_window
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

pytestmark = pytest.mark.web

NARROW = (720, 560)


@pytest.fixture
def window(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, ollama_double: OllamaDouble
) -> Iterator[MainWindow]:
    win, db, _client = make_window(qtbot, ollama_double.url)

    async def ready() -> None:
        await until(lambda: win.monitor.state.value == "connected")
        await until(lambda: len(win.pane.picker.models) >= 3)

    drive(qt_loop, ready())
    yield win
    close(qt_loop, win, win.client, db)


def rect_in(widget: QWidget, top: QWidget) -> QRect:
    return QRect(widget.mapTo(top, widget.rect().topLeft()), widget.size())


def clipped_text(widget: QWidget) -> str:
    """Why `widget`'s text does not fit ("" when it does)."""
    if isinstance(widget, QComboBox):  # the chosen item's text, the arrow and the frame
        needed = widget.fontMetrics().horizontalAdvance(widget.currentText()) + 40
    elif isinstance(widget, QLabel) and (widget.wordWrap() or not widget.text()):
        return ""
    elif isinstance(widget, QLabel | QAbstractButton):
        needed = widget.minimumSizeHint().width()
    else:
        return ""
    if widget.width() < needed:
        return (
            f"{widget.objectName() or type(widget).__name__} is {widget.width()} px, needs {needed}"
        )
    return ""


def whole(window: MainWindow) -> list[str]:
    """Problems with the controls a narrow window must keep whole."""
    pane = window.pane
    parts: dict[str, QWidget] = {
        "composer": pane.composer,
        "message box": pane.composer.edit,
        "send": pane.composer.send_button,
        "model picker": pane.picker,
        "meter": pane.composer.meter,
    }
    problems = []
    area = window.rect()
    for name, widget in parts.items():
        if not widget.isVisible():
            problems.append(f"{name} is hidden")
            continue
        rect = rect_in(widget, window)
        if not area.contains(rect):
            problems.append(f"{name} at {rect.getRect()} leaves the window {area.getRect()}")
        if why := clipped_text(widget):
            problems.append(f"{name}: {why}")
    header = [w for w in pane.findChildren(QWidget) if w.isVisible() and w.parent() is pane]
    for widget in [*header, pane.composer.meter.label, pane.composer.send_button]:
        if why := clipped_text(widget):
            problems.append(why)
    inside = [pane.composer.send_button, pane.composer.meter]
    if rect_in(inside[0], window).intersects(rect_in(inside[1], window)):
        problems.append("send overlaps the meter")
    if rect_in(pane.picker, window).intersects(rect_in(pane.composer, window)):
        problems.append("the model picker overlaps the composer")
    return problems


def test_the_window_is_usable_at_720_by_560(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, window: MainWindow
) -> None:
    async def scenario() -> None:
        minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
        assert minimum.width() <= NARROW[0] and minimum.height() <= NARROW[1], minimum
        window.resize(*NARROW)
        await until(lambda: (window.width(), window.height()) == NARROW)
        await asyncio.sleep(0.2)
        QApplication.processEvents()
        assert (window.width(), window.height()) == NARROW
        if hasattr(window.sidebar, "collapsed"):
            assert window.sidebar.collapsed
        sizes = window.splitter.sizes()
        chat_side = window.splitter.widget(1)
        assert chat_side is not None and chat_side.width() >= NARROW[0] * 0.8, sizes
        assert whole(window) == []

    drive(qt_loop, scenario())


@pytest.mark.skipif(bool(os.environ.get("PHIDESK_NARROW_CHILD")), reason="the child run")
def test_the_window_is_usable_at_720_by_560_at_scale_factor_2(tmp_path: Path) -> None:
    env = dict(os.environ, QT_SCALE_FACTOR="2", PHIDESK_NARROW_CHILD="1")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"{__file__}::test_the_window_is_usable_at_720_by_560",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


LONG_TITLE = "Explain how the borrow checker decides how long a reference may live in Rust code"


def test_a_long_chat_title_is_shortened_not_widening_the_window(
    qtbot: QtBot, qt_loop: asyncio.AbstractEventLoop, window: MainWindow
) -> None:
    async def scenario() -> None:
        chat = await window.workspace.new_chat("phi4-mini:latest", title=LONG_TITLE)
        window.pane.open_chat(chat.id)
        await until(lambda: window.pane.title.text() == LONG_TITLE)
        minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
        assert minimum.width() <= NARROW[0], minimum
        window.resize(*NARROW)
        await until(lambda: window.width() == NARROW[0])
        await asyncio.sleep(0.2)
        QApplication.processEvents()
        assert window.width() == NARROW[0]
        title = window.pane.title
        assert title.width() < title.fontMetrics().horizontalAdvance(LONG_TITLE)
        title.repaint()  # painting decides the tooltip: the whole title when it is shortened
        assert title.toolTip() == LONG_TITLE and title.accessibleName() == LONG_TITLE
        assert whole(window) == []

    drive(qt_loop, scenario())

"""Documents in the chat window, against the Ollama double over a real socket: files attached by
the paperclip's slot, a drop and a paste; a refused file's sentence; the chips on the question
("whole", "n of m parts (pages …)") and what clicking them opens; the parts in the answer's
Info; the meter's documents share; the question asked once before documents leave this
computer."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QObject, QPointF, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.gui.attachment_chips import TextDialog
from app.gui.attachments import DocumentConsentDialog
from app.gui.dialogs import AnswerInfoDialog
from app.gui.main_window import MainWindow
from app.store import ChatSettings, Database
from tests.documents_pdf import make_pdf, report_pages
from tests.gui.test_chat_window import app, close, js, make_window, settled, type_and_send
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

__all__ = ["app"]  # the window fixture, shared with test_chat_window

pytestmark = pytest.mark.web

NOTES = "# Notes\n\nThe code word is pelican.\n"


def _question_sent(double: OllamaDouble) -> str:
    content = double.requests_to("/api/chat")[-1].body["messages"][-1]["content"]
    assert isinstance(content, str)
    return content


async def _answered(window: MainWindow, double: OllamaDouble, count: int = 1) -> None:
    """Wait until the double has had `count` chat requests and the answer is saved."""
    await until(lambda: len(double.requests_to("/api/chat")) >= count)
    await settled(window)


async def _chips(window: MainWindow) -> list[str]:
    texts = await js(
        window,
        "JSON.stringify([...document.querySelectorAll('.attachment-chip .attachment-open')]"
        ".map(b => [...b.querySelectorAll('span')].map(s => s.textContent).join(' · ')))",
    )
    return [str(t) for t in json.loads(texts)]


def _dialogs(kind: type) -> list:  # type: ignore[type-arg]
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def test_a_file_from_the_paperclip_goes_whole_with_its_chip_info_and_meter(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
    tmp_path: Path,
) -> None:
    window, db = app
    notes = tmp_path / "notes.md"
    notes.write_text(NOTES, encoding="utf-8")
    opened: list[QUrl] = []

    class Desktop(QObject):
        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            opened.append(url)

    desktop = Desktop()
    QDesktopServices.setUrlHandler("file", desktop, "open")  # type: ignore[arg-type]

    async def scenario() -> None:
        pane = window.pane
        pane.picker.select("phi4-mini:latest")
        pane.documents.attach_paths([notes])
        await until(lambda: len(pane.documents.bar.chips) == 1)
        assert pane.documents.bar.isVisible()
        ollama_double.script_reply("The code word is pelican.")
        type_and_send(qtbot, window, "What is the code word?")
        await _answered(window, ollama_double)
        assert pane.documents.bar.files == []  # taken by the message
        sent = _question_sent(ollama_double)
        assert NOTES.rstrip("\n") in sent and sent.endswith("What is the code word?")
        chat_id = pane.current_chat
        assert chat_id is not None
        question, answer = db.messages(chat_id)
        assert question.content == "What is the code word?"
        chips: list[str] = []

        async def chips_shown() -> None:
            nonlocal chips
            while True:
                chips = await _chips(window)
                if chips and "whole" in chips[0]:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(chips_shown(), 20)
        assert chips == ["notes.md · whole"]
        # the meter: what the next turn would carry, documents included
        await until(lambda: pane.composer.meter.documents > 0)
        assert "in documents" in pane.composer.meter.label.text()
        assert "Documents:" in pane.composer.meter.toolTip()
        # the chip opens the file (a private copy) and the text PhiDesk read
        await js(window, "document.querySelector('.attachment-open').click()")
        await until(lambda: bool(opened))
        copy = Path(opened[0].toLocalFile())
        assert await asyncio.to_thread(copy.read_bytes) == NOTES.encode()
        assert stat.S_IMODE((await asyncio.to_thread(copy.stat)).st_mode) == 0o600
        await js(window, "document.querySelector('.attachment-text').click()")
        await until(lambda: bool(pane.documents.opener.dialogs))
        text = pane.documents.opener.dialogs[-1]
        assert isinstance(text, TextDialog)
        assert text.text.toPlainText() == NOTES.rstrip("\n")
        text.reject()
        # the answer's Info lists the part sent, and opens it
        await pane.message_actions.act("info", answer.id)
        info = pane.findChildren(AnswerInfoDialog)[-1]
        assert info.parts is not None
        assert [t.split(" · ")[0] for t in info.parts.texts()] == ["notes.md — whole"]
        info.parts.open_current()
        await until(lambda: bool(pane.documents.opener.dialogs))
        assert pane.documents.opener.dialogs[-1].windowTitle() == "notes.md — whole"
        info.reject()

    try:
        drive(qt_loop, scenario())
    finally:
        QDesktopServices.unsetUrlHandler("file")


def test_a_long_pdf_sends_some_parts_and_the_chip_and_info_say_which(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
    tmp_path: Path,
) -> None:
    window, db = app
    report = tmp_path / "report.pdf"
    report.write_bytes(make_pdf(report_pages(60, answer_page=42)))

    async def scenario() -> None:
        pane = window.pane
        chat = await window.workspace.new_chat(
            "phi4-mini:latest", settings=ChatSettings(num_ctx=4096)
        )
        pane.open_chat(chat.id)
        await until(lambda: pane.current_chat == chat.id)
        pane.documents.attach_paths([report])
        await until(lambda: len(pane.documents.bar.chips) == 1)
        ollama_double.script_reply("451 kelvin.")
        type_and_send(qtbot, window, "What coolant temperature did the Halvorsen reactor reach?")
        await _answered(window, ollama_double)
        _question, answer = db.messages(chat.id)
        documents = answer.provenance.documents if answer.provenance else None
        assert documents is not None and 0 < len(documents.parts) < 60
        pattern = re.compile(r"report\.pdf · (\d+) of (\d+) parts \(pages? [\d–, ]+\)")
        found: re.Match[str] | None = None

        async def chip_says_parts() -> None:
            nonlocal found
            while found is None:
                chips = await _chips(window)
                found = pattern.fullmatch(chips[0]) if chips else None
                await asyncio.sleep(0.05)

        await asyncio.wait_for(chip_says_parts(), 20)
        assert found is not None
        assert int(found.group(1)) == len(documents.parts)
        assert int(found.group(2)) == documents.parts[0].parts
        await pane.message_actions.act("info", answer.id)
        info = pane.findChildren(AnswerInfoDialog)[-1]
        assert info.parts is not None
        listed = info.parts.texts()
        assert len(listed) == len(documents.parts)
        assert all(re.match(r"report\.pdf — pages? \d+", t) for t in listed)
        assert any(t.startswith("report.pdf — page 42 ") for t in listed)
        info.reject()

    drive(qt_loop, scenario())


def _drop(target: QWidget, mime: QMimeData) -> None:
    """A drag entering `target` and dropped there, as the platform delivers it."""
    where = QPointF(10, 10)
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(where, Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()


def test_files_dropped_or_pasted_wait_as_removable_chips(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    tmp_path: Path,
) -> None:
    window, _db = app
    dropped = tmp_path / "dropped.txt"
    dropped.write_text("alpha", encoding="utf-8")
    pasted = tmp_path / "pasted.py"
    pasted.write_text("print('beta')\n", encoding="utf-8")

    async def scenario() -> None:
        pane = window.pane
        edit = pane.composer.edit
        edit.setPlainText("draft")
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(dropped))])
        _drop(edit.viewport(), mime)
        await until(lambda: [f.name for f in pane.documents.bar.files] == ["dropped.txt"])
        clip = QMimeData()
        clip.setUrls([QUrl.fromLocalFile(str(pasted))])
        QGuiApplication.clipboard().setMimeData(clip)
        edit.setFocus()
        qtbot.keyClick(edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
        await until(lambda: len(pane.documents.bar.files) == 2)
        assert [f.name for f in pane.documents.bar.files] == ["dropped.txt", "pasted.py"]
        assert edit.toPlainText() == "draft"  # no file URL typed into the message
        # a drop on the transcript side of the window attaches too
        _drop(pane, mime)
        await until(lambda: not pane.documents.bar.busy.text())
        assert len(pane.documents.bar.files) == 2  # the same file is not attached twice
        chip = pane.documents.bar.chips[0]
        assert chip.remove.accessibleName() == "Remove dropped.txt"
        chip.remove.click()
        assert [f.name for f in pane.documents.bar.files] == ["pasted.py"]

    drive(qt_loop, scenario())


def test_a_refused_file_is_one_sentence_and_nothing_of_it_is_sent(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    app: tuple[MainWindow, Database],
    ollama_double: OllamaDouble,
    tmp_path: Path,
) -> None:
    window, db = app
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 8)
    good = tmp_path / "good.txt"
    good.write_text("gamma", encoding="utf-8")

    async def scenario() -> None:
        pane = window.pane
        pane.picker.select("phi4-mini:latest")
        pane.documents.attach_paths([good, binary])
        await until(lambda: bool(pane.documents.bar.refused.text()))
        said = pane.documents.bar.refused.text()
        assert said.startswith("blob.bin is a binary file") and said.endswith(".")
        assert said.count(". ") == 0  # one sentence, the file's name as it is
        assert pane.documents.bar.files == []  # none of that batch is kept
        ollama_double.script_reply("Hello.")
        type_and_send(qtbot, window, "hi")
        await _answered(window, ollama_double)
        sent = _question_sent(ollama_double)
        assert sent == "hi"
        chat_id = pane.current_chat
        assert chat_id is not None
        assert not any(db.attachments([m.id for m in db.messages(chat_id)]).values())
        assert not pane.documents.bar.refused.isVisible()  # sending moved on

    drive(qt_loop, scenario())


def _lan_address() -> str | None:
    """An address of this machine that is not loopback (None: it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # no packet is sent; this picks the route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture
def lan_double() -> Iterator[OllamaDouble]:
    address = _lan_address()
    if address is None:
        pytest.skip("this machine has no address other than loopback")
    double = OllamaDouble(host=address)
    double.start()
    try:
        yield double
    finally:
        double.stop()


def test_documents_to_an_engine_off_this_computer_are_asked_about_once_per_chat(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    ollama_double: OllamaDouble,
    lan_double: OllamaDouble,
    tmp_path: Path,
) -> None:
    window, db, client = make_window(qtbot, ollama_double.url)
    notes = tmp_path / "notes.md"
    notes.write_text(NOTES, encoding="utf-8")

    async def answer_consent(agree: bool) -> None:
        await until(lambda: bool(_dialogs(DocumentConsentDialog)))
        dialog = _dialogs(DocumentConsentDialog)[0]
        assert "lan" in dialog.text()
        if agree:
            dialog.send.click()
        else:
            dialog.reject()

    async def scenario() -> None:
        await until(lambda: window.pane.view.loaded)
        ws = window.workspace
        ws.add_engine("lan", lan_double.url, kind="ollama")
        chat = await ws.new_chat("phi4-mini:latest")
        await ws.set_chat_engine(chat.id, "lan", "phi4-mini:latest")
        pane = window.pane
        pane.open_chat(chat.id)
        await until(lambda: pane.current_chat == chat.id)
        pane.documents.attach_paths([notes])
        await until(lambda: len(pane.documents.bar.files) == 1)
        await asyncio.sleep(0.3)  # the model picker has shown the chat's model
        await ws.set_chat_engine(chat.id, "lan", "phi4-mini:latest")  # whatever it chose
        # declined: nothing goes, the text and the file wait in the composer
        type_and_send(qtbot, window, "What is the code word?")
        await answer_consent(agree=False)
        await until(lambda: pane.composer.draft() == "What is the code word?")
        await settled(window)
        assert len(pane.documents.bar.files) == 1
        assert lan_double.requests_to("/api/chat") == []
        assert db.messages(chat.id) == []
        # agreed: sent, and not asked again for later turns of this chat
        lan_double.script_reply("pelican")
        qtbot.keyClick(pane.composer.edit, Qt.Key.Key_Return)
        await answer_consent(agree=True)
        await _answered(window, lan_double)
        assert NOTES.rstrip("\n") in _question_sent(lan_double)
        lan_double.script_reply("still pelican")
        type_and_send(qtbot, window, "And again?")
        await _answered(window, lan_double, 2)
        assert not _dialogs(DocumentConsentDialog)
        assert len(lan_double.requests_to("/api/chat")) == 2
        assert NOTES.rstrip("\n") in _question_sent(lan_double)  # the path's document again

    try:
        drive(qt_loop, scenario())
    finally:
        close(qt_loop, window, client, db)

"""Regenerate and Continue resend a chat's documents too: on an engine off this computer they
ask first, as Send does (real window, two Ollama doubles, one on this machine's LAN address)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.gui.attachments import DocumentConsentDialog
from tests.gui.test_chat_window import close, make_window, type_and_send
from tests.gui.test_documents_window import NOTES, _answered, _dialogs, lan_double
from tests.ollama_double.server import OllamaDouble
from tests.qt_async import drive, until

__all__ = ["lan_double"]


async def _decide(agree: bool) -> None:
    await until(lambda: bool(_dialogs(DocumentConsentDialog)))
    dialog = _dialogs(DocumentConsentDialog)[0]
    if agree:
        dialog.send.click()
    else:
        dialog.reject()
    await until(lambda: not _dialogs(DocumentConsentDialog))


def test_regenerate_and_continue_ask_before_documents_leave_this_computer(
    qtbot: QtBot,
    qt_loop: asyncio.AbstractEventLoop,
    ollama_double: OllamaDouble,
    lan_double: OllamaDouble,
    tmp_path: Path,
) -> None:
    window, db, client = make_window(qtbot, ollama_double.url)
    notes = tmp_path / "notes.md"
    notes.write_text(NOTES, encoding="utf-8")

    async def scenario() -> None:
        await until(lambda: window.pane.view.loaded)
        ws, pane = window.workspace, window.pane
        ws.add_engine("lan", lan_double.url, kind="ollama")
        chat = await ws.new_chat("phi4-mini:latest")
        await ws.set_chat_engine(chat.id, "lan", "phi4-mini:latest")
        pane.open_chat(chat.id)
        await until(lambda: pane.current_chat == chat.id)
        pane.documents.attach_paths([notes])
        await until(lambda: len(pane.documents.bar.files) == 1)
        await asyncio.sleep(0.3)  # the model picker has shown the chat's model
        await ws.set_chat_engine(chat.id, "lan", "phi4-mini:latest")
        lan_double.script_reply("pelican")
        type_and_send(qtbot, window, "What is the code word?")
        await _decide(agree=True)
        await _answered(window, lan_double)
        answer = db.messages(chat.id)[-1]

        ws._consented().discard(chat.id)  # as in a later run: the agreement is per run
        pane.regenerate_answer(answer.id)
        await _decide(agree=False)
        db.finish_message(answer.id, status="stopped")
        pane.message_actions.continue_answer(answer.id, answer.content)
        await _decide(agree=False)
        await asyncio.sleep(0.2)
        assert len(lan_double.requests_to("/api/chat")) == 1  # declined twice: nothing went

        lan_double.script_reply("pelican, again")
        pane.regenerate_answer(answer.id)
        await _decide(agree=True)
        await _answered(window, lan_double, 2)
        assert (
            NOTES.rstrip("\n")
            in lan_double.requests_to("/api/chat")[-1].body["messages"][-1]["content"]
        )

    try:
        drive(qt_loop, scenario())
    finally:
        close(qt_loop, window, client, db)

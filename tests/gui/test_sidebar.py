"""The chat list's search results: every hit shows, a slice per turn of the event loop, and a
newer list replaces hits still being added."""

from __future__ import annotations

from datetime import UTC, datetime

from pytestqt.qtbot import QtBot

from app.gui.sidebar import HITS_PER_SLICE, ChatSidebar
from app.store import SearchHit


def hits(count: int, word: str = "polynomial") -> list[SearchHit]:
    return [
        SearchHit(
            chat_id=i + 1,
            message_id=100 + i,
            chat_title=f"Chat {i + 1}",
            role="assistant",
            created_at=datetime(2026, 11, 30, tzinfo=UTC),
            snippet=f"roots of the {word}",
            highlights=((13, 13 + len(word)),),
            snippet_html=f"roots of the <mark>{word}</mark>",
        )
        for i in range(count)
    ]


def test_fifty_hits_all_show_a_slice_at_a_time(qtbot: QtBot) -> None:
    sidebar = ChatSidebar()
    qtbot.addWidget(sidebar)
    sidebar.show_hits(hits(50))
    assert sidebar.list.count() == HITS_PER_SLICE  # the rest follow in later turns of the loop
    qtbot.waitUntil(lambda: sidebar.list.count() == 50)
    last = sidebar.list.itemWidget(sidebar.list.item(49))
    assert last is not None and "Chat 50" in last.text()  # type: ignore[attr-defined]


def test_a_newer_list_replaces_hits_still_being_added(qtbot: QtBot) -> None:
    sidebar = ChatSidebar()
    qtbot.addWidget(sidebar)
    sidebar.show_hits(hits(50))
    sidebar.show_hits(hits(3, "matrix"))
    qtbot.wait(100)
    assert sidebar.list.count() == 3
    sidebar.show_hits(hits(40))
    sidebar.show_chats([], None)
    qtbot.wait(100)
    assert not sidebar.searching
    assert all(
        sidebar.list.itemWidget(sidebar.list.item(i)) is None for i in range(sidebar.list.count())
    )

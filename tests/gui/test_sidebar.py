"""The chat list on its own: sections by date, the row menu acts on its own row (right-click,
the hover "⋯" button and the Menu key), the generating dot, collapsing to a rail, the undo bar
keeping the width, names on every control, and search results one row per chat."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QAbstractButton, QApplication, QLineEdit, QMenu
from pytestqt.qtbot import QtBot

from app.gui.icons import Icon, icon_purpose
from app.gui.sidebar import CHAT_ID, ChatSidebar
from app.gui.sidebar_rows import LIVE, MENU_TARGET, SECTION
from app.store import Chat, ChatSettings
from app.store.records import ContextUsage
from app.store.search import ChatMatches

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def chat(chat_id: int, title: str, age: timedelta, pinned: bool = False) -> Chat:
    moment = NOW - age
    return Chat(
        id=chat_id,
        title=title,
        kind="normal",
        model="phi4-mini:latest",
        system_prompt="",
        settings=ChatSettings(),
        pinned=pinned,
        created_at=moment,
        updated_at=moment,
        deleted_at=None,
        context=ContextUsage(),
        message_count=2,
    )


CHATS = [
    chat(1, "Pinned plan", timedelta(days=40), pinned=True),
    chat(2, "Fresh question", timedelta(minutes=5)),
    chat(3, "Older today", timedelta(hours=2)),
    chat(4, "Yesterday's chat", timedelta(days=1)),
    chat(5, "Three days back", timedelta(days=3)),
    chat(6, "Long ago", timedelta(days=30)),
]


def sidebar_with_chats(qtbot: QtBot, current: int | None = None) -> ChatSidebar:
    sidebar = ChatSidebar()
    qtbot.addWidget(sidebar)
    sidebar.resize(300, 700)
    sidebar.show()
    sidebar.show_chats(CHATS, current, now=NOW)
    return sidebar


def row_of(sidebar: ChatSidebar, chat_id: int) -> int:
    item = sidebar.item_for(chat_id)
    assert item is not None
    return sidebar.list.row(item)


def when_menu_opens(act: Callable[[QMenu], None]) -> list[QMenu]:
    """Run `act` on the next popup menu once it is open (menus run their own event loop)."""
    seen: list[QMenu] = []

    def poll() -> None:
        menu = QApplication.activePopupWidget()
        if isinstance(menu, QMenu):
            seen.append(menu)
            act(menu)
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)
    return seen


def choose(text: str) -> Callable[[QMenu], None]:
    def act(menu: QMenu) -> None:
        for action in menu.actions():
            if action.text() == text:
                menu.close()
                action.trigger()
                return
        raise AssertionError(f"no {text!r} in {[a.text() for a in menu.actions()]}")

    return act


def test_chats_fall_under_pinned_today_yesterday_previous_7_days_and_older(
    qtbot: QtBot,
) -> None:
    sidebar = sidebar_with_chats(qtbot)
    headings = [
        (sidebar.list.item(i).text(), sidebar.list.item(i).data(SECTION))
        for i in range(sidebar.list.count())
    ]
    assert headings == [
        ("Pinned plan", "Pinned"),
        ("Fresh question", "Today"),
        ("Older today", None),
        ("Yesterday's chat", "Yesterday"),
        ("Three days back", "Previous 7 days"),
        ("Long ago", "Older"),
    ]
    first = sidebar.list.visualItemRect(sidebar.list.item(1))
    second = sidebar.list.visualItemRect(sidebar.list.item(2))
    assert first.height() > second.height()  # the heading is drawn above the first row


def test_right_click_acts_on_its_row_and_marks_it_not_the_selected_chat(qtbot: QtBot) -> None:
    sidebar = sidebar_with_chats(qtbot, current=2)
    deleted: list[int] = []
    sidebar.deleteRequested.connect(deleted.append)
    target = sidebar.item_for(5)
    assert target is not None
    marked: list[bool] = []

    def act(menu: QMenu) -> None:
        marked.append(bool(target.data(MENU_TARGET)))
        choose("Delete")(menu)

    opened = when_menu_opens(act)
    where = sidebar.list.visualItemRect(target).center()
    event = QContextMenuEvent(
        QContextMenuEvent.Reason.Mouse, where, sidebar.list.viewport().mapToGlobal(where)
    )
    QApplication.sendEvent(sidebar.list.viewport(), event)

    assert opened and marked == [True]
    assert deleted == [5]
    assert sidebar.list.currentItem() is sidebar.item_for(2)  # the selection did not move
    assert not target.data(MENU_TARGET)


def test_hover_shows_a_named_more_button_whose_menu_acts_on_that_row(qtbot: QtBot) -> None:
    sidebar = sidebar_with_chats(qtbot, current=2)
    renamed: list[int] = []
    pinned: list[int] = []
    exported: list[int] = []
    sidebar.renameRequested.connect(renamed.append)
    sidebar.pinToggled.connect(pinned.append)
    sidebar.exportRequested.connect(exported.append)
    target = sidebar.item_for(4)
    assert target is not None
    centre = sidebar.list.visualItemRect(target).center()
    qtbot.mouseMove(sidebar.list.viewport(), centre)
    qtbot.waitUntil(sidebar.more_button.isVisible)
    assert sidebar.more_button.accessibleName() == "More actions for Yesterday's chat"
    assert sidebar.more_button.toolTip()
    assert icon_purpose(sidebar.more_button) is Icon.MORE
    assert sidebar.list.visualItemRect(target).contains(sidebar.more_button.geometry().center())

    for text in ("Rename…", "Pin", "Export as Markdown…"):
        qtbot.mouseMove(sidebar.list.viewport(), centre + QPoint(0, 1))  # hovering again
        qtbot.mouseMove(sidebar.list.viewport(), centre)
        qtbot.waitUntil(sidebar.more_button.isVisible)
        when_menu_opens(choose(text))
        qtbot.mouseClick(sidebar.more_button, Qt.MouseButton.LeftButton)
    assert renamed == [4] and pinned == [4] and exported == [4]


def test_a_pinned_chat_offers_unpin_and_the_menu_key_opens_the_current_rows_menu(
    qtbot: QtBot,
) -> None:
    sidebar = sidebar_with_chats(qtbot, current=1)
    seen: list[list[str]] = []

    def act(menu: QMenu) -> None:
        seen.append([a.text() for a in menu.actions() if a.text()])
        menu.close()

    when_menu_opens(act)
    sidebar.list.setFocus()
    event = QContextMenuEvent(
        QContextMenuEvent.Reason.Keyboard, QPoint(1, 1), sidebar.list.mapToGlobal(QPoint(1, 1))
    )
    QApplication.sendEvent(sidebar.list, event)
    assert seen == [["Rename…", "Unpin", "Export as Markdown…", "Delete"]]


def test_chats_still_answering_carry_a_dot(qtbot: QtBot) -> None:
    sidebar = ChatSidebar()
    qtbot.addWidget(sidebar)
    sidebar.show_chats(CHATS, None, live={3}, now=NOW)
    dots = {
        sidebar.list.item(i).data(CHAT_ID): bool(sidebar.list.item(i).data(LIVE)) for i in range(6)
    }
    assert dots == {1: False, 2: False, 3: True, 4: False, 5: False, 6: False}
    sidebar.set_live({5})
    item3, item5 = sidebar.item_for(3), sidebar.item_for(5)
    assert item3 is not None and item5 is not None
    assert not item3.data(LIVE) and item5.data(LIVE)
    assert "answering now" in item5.data(Qt.ItemDataRole.AccessibleTextRole)


def test_collapsing_leaves_a_rail_of_named_icon_buttons(qtbot: QtBot) -> None:
    sidebar = sidebar_with_chats(qtbot)
    changes: list[bool] = []
    sidebar.collapsedChanged.connect(changes.append)
    qtbot.mouseClick(sidebar.toggle_button, Qt.MouseButton.LeftButton)
    assert sidebar.collapsed and changes == [True]
    assert not sidebar.list.isVisible() and not sidebar.search.isVisible()
    assert sidebar.width() <= 60
    for button in (sidebar.toggle_button, sidebar.new_button, sidebar.search_button):
        assert button.isVisible() and button.accessibleName() and button.toolTip()
    assert sidebar.toggle_button.accessibleName() == "Show the chat list"
    qtbot.mouseClick(sidebar.search_button, Qt.MouseButton.LeftButton)
    assert not sidebar.collapsed and sidebar.list.isVisible()


def test_the_undo_bar_never_widens_the_sidebar(qtbot: QtBot) -> None:
    sidebar = sidebar_with_chats(qtbot)
    hint = sidebar.minimumSizeHint().width()
    sidebar.offer_undo(6, "A chat title long enough to push any sidebar wider than it was " * 3)
    qtbot.waitUntil(sidebar.undo_bar.isVisible)
    assert sidebar.minimumSizeHint().width() <= hint
    assert sidebar.undo_label.text().endswith("…")


def test_every_control_has_an_accessible_name(qtbot: QtBot) -> None:
    sidebar = sidebar_with_chats(qtbot)
    sidebar.offer_undo(6, "Long ago")
    controls = sidebar.findChildren(QAbstractButton) + sidebar.findChildren(QLineEdit)
    unnamed = [w.objectName() for w in controls if not w.accessibleName()]
    assert unnamed == []
    assert sidebar.list.accessibleName() == "Chats"
    for i in range(sidebar.list.count()):
        assert sidebar.list.item(i).data(Qt.ItemDataRole.AccessibleTextRole)


def results() -> list[ChatMatches]:
    return [
        ChatMatches(
            chat_id=7,
            chat_title="Linear algebra",
            updated_at=NOW - timedelta(hours=1),
            message_id=70,
            role="assistant",
            count=3,
            title_match=False,
            snippet="roots of the characteristic polynomial are",
            highlights=((30, 40),),
            title_highlights=(),
        ),
        ChatMatches(
            chat_id=8,
            chat_title="Polynomial homework",
            updated_at=NOW - timedelta(days=2),
            message_id=None,
            role=None,
            count=0,
            title_match=True,
            snippet="",
            highlights=(),
            title_highlights=((0, 10),),
        ),
    ]


def test_search_results_are_one_named_row_per_chat(qtbot: QtBot) -> None:
    sidebar = sidebar_with_chats(qtbot)
    sidebar.show_hits(results(), now=NOW)
    assert sidebar.searching
    assert [sidebar.list.item(i).text() for i in range(2)] == [
        "Linear algebra",
        "Polynomial homework",
    ]
    spoken = sidebar.list.item(0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert spoken == "Linear algebra, 3 matches: roots of the characteristic polynomial are"
    opened: list[tuple[int, int]] = []
    chats: list[int] = []
    sidebar.searchHitActivated.connect(lambda c, m: opened.append((c, m)))
    sidebar.chatSelected.connect(chats.append)
    sidebar.list.setCurrentRow(0)
    sidebar.list.setCurrentRow(1)  # only the title matches: the chat opens as it is
    assert opened == [(7, 70)] and chats == [8]


def test_a_newer_list_replaces_search_results(qtbot: QtBot) -> None:
    sidebar = sidebar_with_chats(qtbot)
    sidebar.show_hits(results(), now=NOW)
    sidebar.show_chats([], None)
    assert not sidebar.searching
    assert sidebar.list.count() == 1
    assert not sidebar.list.item(0).flags() & Qt.ItemFlag.ItemIsSelectable

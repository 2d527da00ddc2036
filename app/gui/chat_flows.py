"""Flows of the chat pane that keep the user going: starter prompts for an empty chat (suited to
the chosen model), the model's friendly name on a live answer, a model that turns out to be
missing (a notice with *Pull model*, and the model list refreshed), and opening the model
manager on a model to pull.

The chat pane owns one `ChatFlows`; the main window hears `modelsStale` and `pullRequested`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QScrollArea, QWidget

from app.backend.catalog import Catalog
from app.errors import PhiDeskError
from app.gui.model_names import catalog_entry, friendly_name
from app.gui.turn_view import user_item
from app.store import Message
from app.workspace import Level, NoticeAction, RunningTurn, Scope, TurnKind
from app.workspace.turns import TurnListener

if TYPE_CHECKING:
    from app.gui.chat_pane import ChatPane
    from app.gui.model_manager import ModelManagerWindow

PULL_MODEL = "pull-model"

GENERAL = (
    ("Explain code", "Explain what this Python does, line by line:\n\n"),
    ("Draft an email", "Write a short, friendly email asking to move our meeting to Friday."),
    ("Summarise", "Summarise the following text in three bullet points:\n\n"),
    ("Brainstorm", "Give me five ideas for a weekend project that teaches me something new."),
)
MATHS = (
    ("Solve a problem", "Solve x^2 - 5x + 6 = 0 and check both roots."),
    ("Prove it", "Prove that the square root of 2 is irrational."),
    ("Step by step", "A train leaves at 9:40 at 84 km/h; how far has it gone by 11:15?"),
    ("Explain code", "Explain what this Python does, line by line:\n\n"),
)
TOOLS = (("Plan a task", "Break this task into steps I can check off: set up a Python project."),)


def starters_for(model: str, catalog: Catalog | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The heading and (label, prompt) starters of an empty chat with `model`."""
    entry = catalog_entry(model, catalog)
    name = friendly_name(model, catalog) if model else "Phi-4"
    if entry is not None and entry.reasoning != "none":
        chosen = list(MATHS)
    else:
        chosen = list(GENERAL)
        if entry is not None and "tools" in entry.capabilities:
            chosen[3] = TOOLS[0]
    return f"What can {name} help with?", chosen


def missing_model_sentence(model: str, host: str) -> str:
    return f"The model {model} is not installed on the Ollama server at {host}."


def show_model_in_manager(manager: ModelManagerWindow, model: str, catalog: Catalog | None) -> None:
    """Point the manager at `model`: its card with that variant chosen and Pull focused, or
    "Another model" filled in when the catalog does not list it."""
    tab = manager.catalog_tab
    manager.tabs.setCurrentWidget(tab)
    match = catalog.lookup(model) if catalog is not None else None
    card = tab.cards.get(match.entry.name) if match is not None else None
    if match is not None and match.variant is not None and card is not None:
        card.chooser.setCurrentIndex(card.chooser.findData(match.variant.name))
        parent: QWidget | None = card.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        if isinstance(parent, QScrollArea):
            parent.ensureWidgetVisible(card)
        card.pull_button.setFocus()
        return
    tab.other_name.setText(model)
    tab.other_name.setFocus()


class ChatFlows(QObject):
    modelsStale = Signal()
    """A model turned out to be missing: the model list should be read again."""
    pullRequested = Signal(str)
    """Open the model manager on this model (to pull it)."""

    def __init__(self, pane: ChatPane) -> None:
        super().__init__(pane)
        self.pane = pane
        pane.view.starter_chosen.connect(self._starter)
        pane.presenter.stalled.connect(self.stalled)
        pane.picker.currentIndexChanged.connect(self.model_shown)
        pane.presenter.model_source = pane.picker.current_model
        self.model_shown()

    @Slot()
    def model_shown(self, _index: int = 0) -> None:
        """The picker shows another model (chosen, or a chat opened): starters to suit it."""
        model = self.pane.picker.current_model()
        heading, starters = starters_for(model, self.pane.catalog)
        self.pane.view.set_starters(heading, starters)

    @Slot(str)
    def _starter(self, prompt: str) -> None:
        composer = self.pane.composer
        composer.set_draft(prompt)
        composer.edit.setFocus()

    def follow(self, turn: RunningTurn, listener: TurnListener) -> None:
        """`listener` hears the turn's events; its question is shown as soon as it is stored."""
        turn.listen(listener)
        turn.stored_listeners.append(lambda message: self.question_stored(turn, message))

    def question_stored(self, turn: RunningTurn, message: Message) -> None:
        """The question is committed: on screen now, before the server is asked (TurnStarted
        shows it again; the view leaves a message it already shows as it is)."""
        if turn.kind is TurnKind.SEND and self.pane.presenter.turn is turn:
            self.pane.view.append_message(user_item(message.id, turn.text))

    def refused(self, chat_id: int | None, reason: str) -> None:
        """A turn was refused: say why; a missing model gets *Pull model* instead."""
        if not reason:
            return
        if "is not installed" in reason and chat_id is not None:
            self.pane._tasks.start(self._missing(chat_id), name="missing model")
            return
        self.pane._tell(reason, Level.WARNING)

    @Slot(float)
    def stalled(self, seconds: float) -> None:
        self.pane._tell(f"No tokens for {seconds:.0f} s; Ollama may still be loading the model.")

    def failed(self, chat_id: int | None, error: str) -> None:
        if "is not installed" in error and chat_id is not None:
            self.pane._tasks.start(self._missing(chat_id), name="missing model")
            return
        self.pane._tell(error, Level.ERROR)

    async def _missing(self, chat_id: int) -> None:
        try:
            chat = await self.pane.workspace.chat(chat_id)
        except PhiDeskError as exc:
            self.pane._tell(str(exc), Level.WARNING)
            return
        self.modelsStale.emit()
        host = self.pane.workspace.client.host
        self.pane.workspace.notices.post(
            Level.WARNING,
            missing_model_sentence(chat.model, host),
            scope=Scope.CHAT,
            target=chat_id,
            actions=(NoticeAction("Pull model", PULL_MODEL, chat.model),),
        )

    def notice_action(self, key: str, argument: str) -> None:
        if key == PULL_MODEL:
            self.pullRequested.emit(argument)

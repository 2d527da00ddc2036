"""The conversation side of the main window: header, transcript, context warning, composer.

It drives `ChatSession` turns on the qasync loop. Several chats may stream at once: each live
turn keeps its own text, and only the chat on screen feeds the transcript view.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.backend.catalog import Catalog
from app.backend.client import OllamaClient
from app.backend.events import ContentDelta, StreamStalled, ThinkingDelta
from app.backend.fit import describe_context_cost
from app.backend.models import ModelInfo
from app.backend.offload import OffloadPreferences
from app.chat.context import ContextPlan
from app.chat.session import (
    DEFAULT_NUM_CTX,
    ChatSession,
    SessionEvent,
    TurnFinished,
    TurnStarted,
    TurnState,
)
from app.config import Paths, Settings
from app.errors import PhiDeskError
from app.gui.chat_settings import NUM_CTX_STEPS, ChatSettingsDialog
from app.gui.composer import Composer
from app.gui.dialogs import AnswerInfoDialog
from app.gui.models_picker import ModelPicker
from app.gui.tasks import Tasks
from app.gui.transcript import TranscriptMessage, TranscriptView
from app.render import StreamRenderer, render_markdown
from app.store import Chat, ChatSettings, Database, Message

log = logging.getLogger(__name__)

HISTORY_SHOWN = 200
THINKING_REFRESH_MS = 100
STATUS_WORDS = {
    "stopped": "stopped",
    "interrupted": "interrupted",
    "error": "failed",
    "streaming": "streaming",
}


@dataclass
class LiveTurn:
    """A turn in flight for one chat."""

    task: asyncio.Task[Any]
    answer_id: int | None = None
    content: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    thinking_started: float | None = None
    answer_started: bool = False
    renderer: StreamRenderer | None = None
    thinking_renderer: StreamRenderer | None = None
    text: str = ""


def caption_of(message: Message) -> str:
    parts: list[str] = []
    if message.role == "assistant":
        if message.provenance is not None:
            parts.append(message.provenance.model)
            tps = message.provenance.tokens_per_second
            if tps:
                parts.append(f"{tps:.1f} tok/s")
        word = STATUS_WORDS.get(message.status)
        if word:
            parts.append(word)
    return " · ".join(parts)


def notice_html(message: Message) -> str:
    """A visible line under an answer that did not complete."""
    if message.status == "complete" or message.role != "assistant":
        return ""
    text = {
        "stopped": "You stopped this answer.",
        "interrupted": "This answer was interrupted; what arrived is kept.",
        "streaming": "This answer is still arriving.",
        "error": "The answer failed.",
    }.get(message.status, "")
    if message.error:
        text = f"{text} {message.error[:1].upper()}{message.error[1:]}."
    return f'<p class="notice">{html.escape(text)}</p>' if text else ""


def transcript_item(message: Message) -> TranscriptMessage:
    body = render_markdown(message.content) + notice_html(message)
    thinking = render_markdown(message.thinking) if message.thinking.strip() else None
    return TranscriptMessage(
        str(message.id), message.role, body, thinking, {"caption": caption_of(message)}
    )


class ContextBanner(QWidget):
    """Shown when sending the draft would push older messages out of the window."""

    raiseRequested = Signal(int)
    summaryRequested = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ContextBanner")
        self.setStyleSheet(
            "#ContextBanner { background: #fff4d6; border: 1px solid #e0a020; border-radius: 4px; }"
            "#ContextBanner QLabel { color: #5a4300; }"
        )
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.text = QLabel()
        self.text.setObjectName("ContextBannerText")
        self.text.setWordWrap(True)
        self.raise_button = QPushButton()
        self.raise_button.setObjectName("RaiseContextButton")
        self.summary_button = QPushButton("New chat with a summary")
        self.summary_button.setObjectName("SummaryChatButton")
        self.go_on = QPushButton("Send anyway")
        self.go_on.setObjectName("GoOnButton")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.raise_button)
        layout.addWidget(self.summary_button)
        layout.addWidget(self.go_on)
        self._target = 0
        self.raise_button.clicked.connect(lambda: self.raiseRequested.emit(self._target))
        self.summary_button.clicked.connect(self.summaryRequested)
        self.go_on.clicked.connect(self.dismissed)
        self.hide()

    def offer(self, newly_out: int, limit: int, target: int | None, cost: str | None) -> None:
        self.text.setText(
            f"Sending this leaves {newly_out} more older message"
            f"{'s' if newly_out != 1 else ''} out of the model's {limit:,}-token context window."
        )
        self.raise_button.setVisible(target is not None)
        if target is not None:
            self._target = target
            self.raise_button.setText(f"Raise to {target:,} tokens")
            self.raise_button.setToolTip(cost or "Changing the window reloads the model.")
        self.show()


class ChatPane(QWidget):
    chatsChanged = Signal()
    chatCreated = Signal(int)
    statusMessage = Signal(str)

    def __init__(
        self,
        db: Database,
        client: OllamaClient,
        paths: Paths,
        catalog: Catalog | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.client = client
        self.paths = paths
        self.catalog = catalog
        self.current_chat: int | None = None
        self.sessions: dict[int, ChatSession] = {}
        self.live: dict[int, LiveTurn] = {}
        self.editing: int | None = None
        self.banner_dismissed_for = ""
        self._plan: ContextPlan | None = None
        self._tasks = Tasks()

        self.picker = ModelPicker()
        self.title = QLabel("New chat")
        self.title.setObjectName("ChatTitle")
        title_font = self.title.font()
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.settings_button = QPushButton("Settings…")
        self.settings_button.setObjectName("ChatSettingsButton")
        self.settings_button.setToolTip("Chat settings (Ctrl+,)")
        header = QHBoxLayout()
        header.setContentsMargins(8, 6, 8, 0)
        header.addWidget(self.title, 1)
        header.addWidget(QLabel("Model"))
        header.addWidget(self.picker)
        header.addWidget(self.settings_button)

        self.view = TranscriptView()
        self.banner = ContextBanner()
        self.edit_note = QLabel()
        self.edit_note.setObjectName("EditNote")
        self.edit_note.hide()
        self.composer = Composer()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.banner)
        layout.addWidget(self.edit_note)
        layout.addWidget(self.composer)

        self._context_timer = QTimer(self)
        self._context_timer.setSingleShot(True)
        self._context_timer.setInterval(200)
        self._context_timer.timeout.connect(self.update_context)
        self._thinking_timer = QTimer(self)
        self._thinking_timer.setSingleShot(True)
        self._thinking_timer.setInterval(THINKING_REFRESH_MS)
        self._thinking_timer.timeout.connect(self._refresh_thinking)

        self.composer.sendRequested.connect(self.send)
        self.composer.stopRequested.connect(self.stop)
        self.composer.draftChanged.connect(self._context_timer.start)
        self.settings_button.clicked.connect(self.edit_settings)
        self.picker.currentIndexChanged.connect(self._model_chosen)
        self.view.message_action.connect(self._message_action)
        self.banner.raiseRequested.connect(self.raise_context)
        self.banner.summaryRequested.connect(self.new_chat_with_summary)
        self.banner.dismissed.connect(self._dismiss_banner)

    # --- chats ----------------------------------------------------------------------------

    def session(self, chat_id: int) -> ChatSession:
        if chat_id not in self.sessions:
            self.sessions[chat_id] = ChatSession(
                self.db, self.client, chat_id, model_options=self._offload_options
            )
        return self.sessions[chat_id]

    def _offload_options(self, model: str) -> dict[str, int]:
        """The model manager's GPU offload choice for this model, read fresh for each turn."""
        return OffloadPreferences.load(self.paths).options_for(model)

    def open_chat(self, chat_id: int | None) -> None:
        """Show a chat (None: a fresh, not yet saved chat)."""
        self.current_chat = chat_id
        self.editing = None
        self.edit_note.hide()
        self.banner.hide()
        if chat_id is None:
            self.title.setText("New chat")
            self.view.set_messages([])
            default = Settings.load(self.paths.settings_file).default_model
            if default:
                self.picker.select(default)
            self.composer.set_streaming(False)
            self._context_timer.start()
            return
        chat = self.db.get_chat(chat_id)
        self.title.setText(chat.title)
        self.picker.select(chat.model)
        live = self.live.get(chat_id)
        messages = self.db.latest_messages(chat_id, limit=HISTORY_SHOWN)
        items = [transcript_item(m) for m in messages if live is None or m.id != live.answer_id]
        self.view.set_messages(items)
        if live is not None and live.answer_id is not None:
            self._attach_live(live)
        self.composer.set_streaming(live is not None)
        if chat.model:
            self._tasks.start(self._learn_model(chat_id, chat.model), name="model info")
        self._context_timer.start()

    async def _learn_model(self, chat_id: int, model: str) -> None:
        session = self.session(chat_id)
        await session.model_info(model)
        await session.refresh_loaded(model)
        if chat_id == self.current_chat:
            self.update_context()

    def _attach_live(self, live: LiveTurn) -> None:
        assert live.answer_id is not None
        self.view.append_message(
            TranscriptMessage(str(live.answer_id), "assistant", "", None, {"caption": "streaming"})
        )
        live.renderer = StreamRenderer()
        live.renderer.push("".join(live.content))
        self.view.begin_stream(str(live.answer_id), live.renderer)
        # Reasoning can run to tens of thousands of tokens: render it incrementally too.
        live.thinking_renderer = StreamRenderer()
        live.thinking_renderer.push("".join(live.thinking))
        if live.thinking:
            self._refresh_thinking()

    def _ensure_chat(self) -> int:
        if self.current_chat is not None:
            return self.current_chat
        model = self.picker.current_model()
        defaults = self._model_defaults(model)
        chat = self.db.create_chat(model=model, settings=defaults)
        self.current_chat = chat.id
        self.chatCreated.emit(chat.id)
        return chat.id

    def _model_defaults(self, model: str) -> ChatSettings:
        stored = Settings.load(self.paths.settings_file).extra.get("model_defaults", {})
        raw = stored.get(model) if isinstance(stored, dict) else None
        if not isinstance(raw, dict):
            return ChatSettings()
        return ChatSettings(
            num_ctx=raw.get("num_ctx"),
            temperature=raw.get("temperature"),
            seed=raw.get("seed"),
            think=raw.get("think"),
            keep_alive=raw.get("keep_alive"),
        )

    def _save_model_defaults(self, model: str, settings: ChatSettings) -> None:
        config = Settings.load(self.paths.settings_file)
        stored = config.extra.get("model_defaults")
        defaults: dict[str, Any] = dict(stored) if isinstance(stored, dict) else {}
        defaults[model] = {
            "num_ctx": settings.num_ctx,
            "temperature": settings.temperature,
            "seed": settings.seed,
            "think": settings.think,
            "keep_alive": settings.keep_alive,
        }
        config.extra["model_defaults"] = defaults
        config.save(self.paths.settings_file)

    @Slot(int)
    def _model_chosen(self, _index: int) -> None:
        model = self.picker.current_model()
        if self.current_chat is None or not model:
            self._context_timer.start()
            return
        self.db.update_chat(self.current_chat, model=model)
        self._tasks.start(self._learn_model(self.current_chat, model), name="model info")
        self.chatsChanged.emit()

    # --- turns ----------------------------------------------------------------------------

    @Slot(str)
    def send(self, text: str) -> None:
        if self.current_chat is not None and self.current_chat in self.live:
            return
        if not self.picker.current_model() and self.current_chat is None:
            self.statusMessage.emit("Choose a model first (or pull one with the model manager).")
            return
        chat_id = self._ensure_chat()
        session = self.session(chat_id)
        if self.editing is not None:
            events = session.edit_and_resend(self.editing, text)
            reload = True
        else:
            events = session.send(text)
            reload = False
        self.editing = None
        self.edit_note.hide()
        self.banner.hide()
        self.composer.set_draft("")  # taken now; given back if the turn is refused
        self._start_turn(chat_id, events, reload=reload, text=text)

    def regenerate(self) -> None:
        chat_id = self.current_chat
        if chat_id is None or chat_id in self.live:
            return
        self._start_turn(chat_id, self.session(chat_id).regenerate(), reload=True)

    def _start_turn(self, chat_id: int, events: Any, *, reload: bool, text: str = "") -> None:
        holder: dict[str, LiveTurn] = {}
        task = self._tasks.start(self._run_turn(chat_id, events, holder, reload), name="turn")
        live = LiveTurn(task=task, text=text)
        holder["live"] = live
        self.live[chat_id] = live
        if chat_id == self.current_chat:
            self.composer.set_streaming(True)

    async def _run_turn(
        self, chat_id: int, events: Any, holder: dict[str, LiveTurn], reload: bool
    ) -> None:
        live: LiveTurn | None = None
        try:
            await asyncio.sleep(0)  # let _start_turn register the LiveTurn
            live = holder["live"]
            async for event in events:
                self._on_event(chat_id, live, event, reload)
        except asyncio.CancelledError:
            self._turn_ended(chat_id, live or holder.get("live"))
            raise
        except PhiDeskError as exc:
            self.statusMessage.emit(str(exc))
            if live is not None and live.answer_id is None:
                self._give_back(chat_id, live.text)
            self._turn_ended(chat_id, live)
        except Exception:
            log.exception("turn failed")
            self.statusMessage.emit("The answer failed unexpectedly; details are in the log file.")
            self._turn_ended(chat_id, live)

    def _give_back(self, chat_id: int, text: str) -> None:
        """A refused turn: put the user's text back where it was typed, unless they moved on."""
        if text and chat_id == self.current_chat and not self.composer.draft():
            self.composer.set_draft(text)

    def _visible(self, chat_id: int) -> bool:
        return chat_id == self.current_chat

    def _on_event(self, chat_id: int, live: LiveTurn, event: SessionEvent, reload: bool) -> None:
        if isinstance(event, TurnStarted):
            live.answer_id = event.answer_message_id
            if self._visible(chat_id):
                if reload:
                    messages = self.db.latest_messages(chat_id, limit=HISTORY_SHOWN)
                    self.view.set_messages(
                        [transcript_item(m) for m in messages if m.id != live.answer_id]
                    )
                else:
                    self.view.append_message(
                        transcript_item(self.db.get_message(event.user_message_id))
                    )
                self._attach_live(live)
                self.title.setText(self.db.get_chat(chat_id).title)
            self.chatsChanged.emit()
        elif isinstance(event, ThinkingDelta):
            if live.thinking_started is None:
                live.thinking_started = time.monotonic()
            live.thinking.append(event.text)
            if live.thinking_renderer is not None:
                live.thinking_renderer.push(event.text)
            if self._visible(chat_id) and not self._thinking_timer.isActive():
                self._thinking_timer.start()
        elif isinstance(event, ContentDelta):
            if not live.answer_started:
                live.answer_started = True
                if live.thinking and self._visible(chat_id):
                    self._refresh_thinking()  # collapses: the answer has started
            live.content.append(event.text)
            if self._visible(chat_id) and live.renderer is not None:
                live.renderer.push(event.text)
        elif isinstance(event, StreamStalled):
            if self._visible(chat_id):
                self.statusMessage.emit(
                    f"No tokens for {event.seconds:.0f} s; Ollama may still be loading the model."
                )
        elif isinstance(event, TurnFinished):
            if self._visible(chat_id) and live.renderer is not None:
                self.view.end_stream(live.renderer.finish())
                self.view.append_message(transcript_item(event.message))
            if event.state is TurnState.FAILED and event.error is not None:
                self.statusMessage.emit(str(event.error))
            self._turn_ended(chat_id, live)

    def _turn_ended(self, chat_id: int, live: LiveTurn | None) -> None:
        if live is None:
            live = self.live.get(chat_id)
            if live is None:
                return
        if self.live.get(chat_id) is live:
            del self.live[chat_id]
        if self._visible(chat_id):
            if live.answer_id is not None and live.renderer is not None:
                try:
                    final = self.db.get_message(live.answer_id)
                except PhiDeskError:
                    final = None
                if final is not None and final.status != "complete":
                    self.view.end_stream(render_markdown(final.content))
                    self.view.append_message(transcript_item(final))
            self.composer.set_streaming(False)
            self._context_timer.start()
        self.chatsChanged.emit()

    @Slot()
    def _refresh_thinking(self) -> None:
        chat_id = self.current_chat
        live = self.live.get(chat_id) if chat_id is not None else None
        if live is None or live.answer_id is None:
            return
        started = live.thinking_started or time.monotonic()
        renderer = live.thinking_renderer
        self.view.set_thinking(
            str(live.answer_id),
            renderer.html() if renderer is not None else render_markdown("".join(live.thinking)),
            running=not live.answer_started,
            seconds=time.monotonic() - started,
        )

    @Slot()
    def stop(self) -> None:
        if self.editing is not None and self.current_chat not in self.live:
            self.editing = None
            self.edit_note.hide()
            self.composer.set_draft("")
            return
        if self.current_chat is None:
            return
        live = self.live.get(self.current_chat)
        if live is not None:
            live.task.cancel()

    def stop_all(self) -> None:
        for live in list(self.live.values()):
            live.task.cancel()

    # --- actions from the transcript ------------------------------------------------------

    @Slot(str, str)
    def _message_action(self, action: str, message_id: str) -> None:
        try:
            message = self.db.get_message(int(message_id))
        except (ValueError, PhiDeskError):
            return
        if action == "copy-markdown":
            QGuiApplication.clipboard().setText(message.content)
            self.statusMessage.emit("Copied the message as Markdown.")
        elif action == "edit" and message.role == "user":
            self.editing = message.id
            self.composer.set_draft(message.content)
            self.edit_note.setText(
                "Editing a message: sending replaces it and every later message (Esc cancels)."
            )
            self.edit_note.show()
            self.composer.edit.setFocus()
        elif action == "regenerate":
            self.regenerate()
        elif action == "info":
            AnswerInfoDialog(message, self).exec()
        elif action == "delete":
            self.delete_message(message.id)

    def delete_message(self, message_id: int) -> None:
        if self.current_chat is None or self.current_chat in self.live:
            return
        self.db.delete_message(message_id)
        self.view.remove_message(str(message_id))
        self._context_timer.start()
        self.chatsChanged.emit()

    # --- settings and the context window --------------------------------------------------

    def _model_info(self, chat: Chat) -> ModelInfo | None:
        session = self.sessions.get(chat.id)
        return session.cached_model_info(chat.model) if session and chat.model else None

    def _vram_cost(self, chat: Chat, info: ModelInfo | None, num_ctx: int) -> str | None:
        installed = self.picker.installed(chat.model)
        if info is None or installed is None:
            return None
        return describe_context_cost(info, installed.size, num_ctx)

    @Slot()
    def edit_settings(self) -> None:
        if self.current_chat is None:
            self._ensure_chat()
        assert self.current_chat is not None
        chat = self.db.get_chat(self.current_chat)
        info = self._model_info(chat)
        dialog = ChatSettingsDialog(
            chat,
            self.db,
            trained_context=info.context_length if info else None,
            supports_thinking=bool(info and info.supports_thinking),
            vram_cost=lambda n: self._vram_cost(chat, info, n),
            parent=self,
        )
        if dialog.exec() and dialog.result_value is not None:
            result = dialog.result_value
            self.db.update_chat(
                chat.id, system_prompt=result.system_prompt, settings=result.settings
            )
            if chat.model:
                self._save_model_defaults(chat.model, result.settings)
            self._context_timer.start()

    @Slot()
    def update_context(self) -> None:
        """Recompute the meter, the out-of-context marks and the warning banner."""
        if self.current_chat is None:
            self.composer.meter.label.setText("–")
            self.view.mark_out_of_context([])
            return
        chat = self.db.get_chat(self.current_chat)
        session = self.session(chat.id)
        info = self._model_info(chat)
        history = self.db.messages(chat.id)
        draft = self.composer.draft()
        now = session.plan(chat, info, history, None)
        plan = session.plan(chat, info, history, draft) if draft.strip() else now
        self._plan = plan
        self.composer.meter.show_plan(
            plan,
            measured_used=chat.context.used,
            loaded_context=session.loaded_context(chat.model),
        )
        last_answer = next((m for m in reversed(history) if m.role == "assistant"), None)
        if chat.context.used is not None and last_answer is not None and last_answer.thinking:
            self.composer.meter.setToolTip(
                self.composer.meter.toolTip()
                + "\nOllama's count includes the last answer's reasoning, which is not sent again"
            )
        self.view.mark_out_of_context(str(i) for i in plan.excluded_ids)
        newly_out = len(set(plan.excluded_ids) - set(now.excluded_ids))
        if draft.strip() and newly_out and self.banner_dismissed_for != draft:
            requested = session.requested_num_ctx(chat, info)
            trained = info.context_length if info and info.context_length else None
            target = next(
                (s for s in NUM_CTX_STEPS if s > requested and (trained is None or s <= trained)),
                None,
            )
            cost = self._vram_cost(chat, info, target) if target else None
            self.banner.offer(newly_out, plan.limit, target, cost)
        elif not newly_out:
            self.banner.hide()

    @Slot()
    def _dismiss_banner(self) -> None:
        self.banner_dismissed_for = self.composer.draft()
        self.banner.hide()

    @Slot(int)
    def raise_context(self, num_ctx: int) -> None:
        if self.current_chat is None:
            return
        chat = self.db.get_chat(self.current_chat)
        s = chat.settings
        self.db.update_chat(
            chat.id,
            settings=ChatSettings(
                num_ctx=num_ctx,
                temperature=s.temperature,
                seed=s.seed,
                think=s.think,
                keep_alive=s.keep_alive,
                extra=dict(s.extra),
            ),
        )
        self.banner.hide()
        self.statusMessage.emit(
            f"This chat now asks for a {num_ctx:,}-token window; "
            "the model reloads on the next turn."
        )
        self.update_context()

    @Slot()
    def new_chat_with_summary(self) -> None:
        if self.current_chat is None:
            return
        self.banner.hide()
        self._tasks.start(self._summarize_into_new_chat(self.current_chat), name="summary chat")

    async def _summarize_into_new_chat(self, chat_id: int) -> None:
        chat = self.db.get_chat(chat_id)
        draft = self.composer.draft()
        history = [m for m in self.db.messages(chat_id) if m.content and m.role != "system"]
        transcript = "\n\n".join(f"{m.role.upper()}: {m.content}" for m in history)
        self.statusMessage.emit("Summarising this chat for a new one…")
        prompt = [
            {
                "role": "system",
                "content": "Summarise the conversation below in at most 200 words, keeping "
                "facts, decisions, formulas and open questions. Write only the summary.",
            },
            {"role": "user", "content": transcript[-60_000:]},
        ]
        parts: list[str] = []
        # A window big enough for the whole transcript (≈3 characters a token, plus room for
        # the summary), within what the model was trained for; Ollama would cut it otherwise.
        info = self._model_info(chat)
        wanted = len(prompt[1]["content"]) // 3 + 1024
        trained = info.context_length if info and info.context_length else None
        num_ctx = max(chat.settings.num_ctx or DEFAULT_NUM_CTX, wanted)
        if trained:
            num_ctx = min(num_ctx, trained)
        try:
            async for event in self.client.chat(
                chat.model,
                prompt,
                num_ctx=num_ctx,
                keep_alive=chat.settings.keep_alive,
            ):
                if isinstance(event, ContentDelta):
                    parts.append(event.text)
        except PhiDeskError as exc:
            self.statusMessage.emit(f"Could not summarise the chat: {exc}")
            return
        summary = "".join(parts).strip()
        system = (chat.system_prompt + "\n\n" if chat.system_prompt else "") + (
            f"Summary of an earlier conversation (“{chat.title}”):\n{summary}"
        )
        new = self.db.create_chat(
            title=f"{chat.title} (continued)",
            model=chat.model,
            system_prompt=system,
            settings=chat.settings,
        )
        self.chatCreated.emit(new.id)
        if not self.composer.draft():
            self.composer.set_draft(draft)
        self.statusMessage.emit("Started a new chat that carries a summary of the old one.")

    def shutdown(self) -> None:
        self.stop_all()
        self._tasks.cancel_all()

    async def aclose(self) -> None:
        """Stop every stream and wait until each answer is saved."""
        await self._tasks.cancel_and_wait()


def confirm(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes

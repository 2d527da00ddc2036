"""The transcript: a locked-down QtWebEngine page that shows a chat with Markdown, code and math.

How to use it (the chat window does this):

    view = TranscriptView()
    view.set_messages([TranscriptMessage(id, role, render_markdown(text), thinking_html, meta)])
    view.append_message(TranscriptMessage("a7", "assistant", "", None, {}))
    renderer = StreamRenderer()
    view.begin_stream("a7", renderer)      # the view pulls renderer.take() at most 60 times/s
    renderer.push(delta)                   # ...for every streamed piece of the answer
    view.end_stream(renderer.finish())

or push updates yourself with `view.apply(renderer.feed(delta))` (also coalesced to at most
60 patches a second). `set_thinking()` shows a collapsible reasoning block with a live timer,
`mark_out_of_context()` flags messages the model no longer sees, `set_theme()` picks light or
dark (default: follow the system).

Signals: `copy_requested(text)` (code block or equation; already put on the clipboard),
`link_clicked(url)` (opened in the system browser unless `open_links_externally` is False),
`message_action(action, message_id)` for "copy-markdown", "edit", "regenerate", "info",
"delete", "continue", "previous-version" and "next-version" (buttons, or Alt+Left/Alt+Right on
a focused message), `page_ready()`.

Versions: `meta["version"]` and `meta["versions"]` (1-based, as strings) give a message its
`‹ n/m ›` switcher; `meta["can_continue"]` offers Continue on a cut-off answer.
`sync_messages()` shows a new list but rebuilds only from the first message that differs, so
what is above stays in place (no flicker, no scroll jump); `announce()` tells screen readers.

Security: the page is served from the `phidesk:` scheme by `TranscriptSchemeHandler` (only
its own files, KaTeX's dist and the Pygments styles), with a Content-Security-Policy that allows
only the page's own scripts, no inline script and no remote loads. The profile is
off-the-record, and the page never navigates: link clicks are handed to the system browser.
The URL scheme must be registered before the QApplication exists; importing this module does
it (`register_scheme()`).
"""

from __future__ import annotations

import json
import logging
import mimetypes
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import (
    QBuffer,
    QByteArray,
    QCoreApplication,
    QFile,
    QIODevice,
    QObject,
    Qt,
    QTimer,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWebChannel import QWebChannel
from PySide6.QtWebEngineCore import (
    QWebEnginePage,
    QWebEngineProfile,
    QWebEngineSettings,
    QWebEngineUrlRequestJob,
    QWebEngineUrlScheme,
    QWebEngineUrlSchemeHandler,
)
from PySide6.QtWebEngineWidgets import QWebEngineView
from PySide6.QtWidgets import QWidget

from app.gui.theme import page_background
from app.render import StreamRenderer, StreamUpdate, pygments_css
from app.resources import katex_dir, resources_dir

log = logging.getLogger(__name__)

SCHEME = b"phidesk"
HOST = "app"
PAGE_URL = QUrl(f"{SCHEME.decode()}://{HOST}/chat.html")
FRAME_SECONDS = 1 / 60
FIRST_BATCH = 30  # messages shown first (the end of the chat); older ones follow in batches
LATER_BATCH = 60
EXTERNAL_SCHEMES = frozenset({"http", "https", "mailto"})
_PAGE_FILES = frozenset({"chat.html", "chat.js", "chat.css"})


def base_text_px() -> float:
    """The transcript's reading size in CSS px: the application font, a little larger (reading
    text at a desktop's usual 10 pt comes out at today's 15 px); the view's zoom applies on top."""
    font = QGuiApplication.font()
    px = float(font.pixelSize()) if font.pixelSize() > 0 else font.pointSizeF() * 96 / 72
    return max(11.0, min(32.0, px * 1.12))


def register_scheme() -> None:
    """Register `phidesk:` with QtWebEngine. Must run before the QApplication is created."""
    if QWebEngineUrlScheme.schemeByName(SCHEME).name() == SCHEME:
        return
    if QCoreApplication.instance() is not None:
        raise RuntimeError("register the phidesk: URL scheme before creating the QApplication")
    scheme = QWebEngineUrlScheme(SCHEME)
    scheme.setSyntax(QWebEngineUrlScheme.Syntax.Host)
    # Secure (a trustworthy origin, like https) but not Local: local schemes get an opaque
    # "null" origin, like file:, and then CSP 'self' and the origin check below mean nothing.
    scheme.setFlags(QWebEngineUrlScheme.Flag.SecureScheme)
    scheme.setDefaultPort(QWebEngineUrlScheme.SpecialPort.PortUnspecified.value)
    QWebEngineUrlScheme.registerScheme(scheme)


if QCoreApplication.instance() is None:
    register_scheme()


class TranscriptMessage(NamedTuple):
    """One message as the view shows it. `meta["caption"]` is shown beside the role; see the
    module docstring for the other keys."""

    id: str
    role: str  # "user", "assistant" or "system"
    html: str  # from app.render.render_markdown
    thinking: str | None = None  # reasoning HTML, shown collapsed
    meta: Mapping[str, str] = {}


def _message_json(message: TranscriptMessage | Sequence[object]) -> dict[str, object]:
    m = TranscriptMessage(*message)
    return {
        "id": str(m.id),
        "role": str(m.role),
        "html": m.html,
        "thinking": m.thinking,
        "meta": {str(k): str(v) for k, v in dict(m.meta or {}).items()},
    }


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _inside(base: Path, relative: str) -> Path | None:
    candidate = (base / relative).resolve()
    return candidate if candidate.is_relative_to(base.resolve()) else None


class TranscriptSchemeHandler(QWebEngineUrlSchemeHandler):
    """Serves phidesk://app/: the page files, KaTeX's dist, Pygments CSS and qwebchannel.js."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._web = resources_dir() / "web"
        self._katex = katex_dir()
        self._pygments = pygments_css().encode("utf-8")

    def content(self, path: str) -> tuple[bytes, bytes] | None:
        """(MIME type, bytes) for a path under phidesk://app/, or None."""
        if path in _PAGE_FILES:
            data = _read_file(self._web / path)
        elif path == "pygments.css":
            data = self._pygments
        elif path == "qwebchannel.js":
            resource = QFile(":/qtwebchannel/qwebchannel.js")
            if not resource.open(QIODevice.OpenModeFlag.ReadOnly):
                return None
            data = bytes(resource.readAll().data())
            resource.close()
        elif path.startswith("katex/") and self._katex is not None:
            target = _inside(self._katex, path.removeprefix("katex/"))
            data = _read_file(target) if target is not None else None
        else:
            data = None
        if data is None:
            return None
        mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if path.endswith(".woff2"):
            mime = "font/woff2"
        return mime.encode(), data

    def requestStarted(self, job: QWebEngineUrlRequestJob) -> None:
        url = job.requestUrl()
        initiator = job.initiator()
        foreign = initiator.isValid() and (
            initiator.scheme() != SCHEME.decode() or initiator.host() != HOST
        )
        if url.host() != HOST or foreign or bytes(job.requestMethod().data()) != b"GET":
            job.fail(QWebEngineUrlRequestJob.Error.RequestDenied)
            return
        found = self.content(url.path().lstrip("/"))
        if found is None:
            job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)
            return
        mime, data = found
        buffer = QBuffer(job)
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        job.reply(mime, buffer)


class _Bridge(QObject):
    """The object the page reaches through QWebChannel."""

    copy_text = Signal(str)
    action = Signal(str, str)
    starter = Signal(str)
    attachment = Signal(str, str)
    ready = Signal()
    older = Signal()

    @Slot(str)
    def copyText(self, text: str) -> None:
        self.copy_text.emit(text)

    @Slot(str, str)
    def messageAction(self, action: str, message_id: str) -> None:
        self.action.emit(action, message_id)

    @Slot(str)
    def starterChosen(self, prompt: str) -> None:
        self.starter.emit(prompt)

    @Slot(str, str)
    def openAttachment(self, attachment_id: str, how: str) -> None:
        self.attachment.emit(attachment_id, how)

    @Slot()
    def pageReady(self) -> None:
        self.ready.emit()

    @Slot()
    def olderWanted(self) -> None:
        self.older.emit()


class TranscriptPage(QWebEnginePage):
    """A page that never navigates away: link clicks are reported instead."""

    link_clicked = Signal(QUrl)

    def acceptNavigationRequest(
        self, url: QUrl | str, type: QWebEnginePage.NavigationType, isMainFrame: bool
    ) -> bool:
        target = QUrl(url)
        same_page = (
            target.scheme() == PAGE_URL.scheme()
            and target.host() == PAGE_URL.host()
            and target.path() == PAGE_URL.path()
            and not target.hasQuery()
        )
        if isMainFrame and same_page:
            return True  # loading the page itself, or a #fragment inside it
        if type == QWebEnginePage.NavigationType.NavigationTypeLinkClicked:
            self.link_clicked.emit(target)
        return False

    def createWindow(self, type: QWebEnginePage.WebWindowType) -> QWebEnginePage:
        return None  # type: ignore[return-value]  # Qt's way of refusing a new window

    def javaScriptConsoleMessage(
        self,
        level: QWebEnginePage.JavaScriptConsoleMessageLevel,
        message: str,
        lineNumber: int,
        sourceID: str,
    ) -> None:
        log.info("transcript page: %s (%s:%d)", message, sourceID, lineNumber)


class TranscriptView(QWebEngineView):
    """The chat transcript. See the module docstring for the API."""

    copy_requested = Signal(str)
    link_clicked = Signal(QUrl)
    message_action = Signal(str, str)
    starter_chosen = Signal(str)
    """A starter prompt of the empty chat was clicked (its text)."""
    page_ready = Signal()
    attachment_opened = Signal(str, str)
    """A chip of an attached file was clicked: (attachment id, "file" or "text")."""
    older_wanted = Signal()
    """The page was scrolled near its top and `set_has_older(True)` said there is more."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Transcript")
        self.open_links_externally = True
        self.copies_to_clipboard = True
        self.patch_count = 0  # patches sent to the page (for tests and bench)
        self.last_patch_seconds = 0.0  # GUI-thread time of the last patch

        profile = QWebEngineProfile()  # no storage name: off the record, nothing on disk
        self._handler = TranscriptSchemeHandler(profile)
        profile.installUrlSchemeHandler(SCHEME, self._handler)
        page = TranscriptPage(profile, self)
        profile.setParent(page)  # deleted after the page, as QtWebEngine requires
        settings = page.settings()
        for attribute, on in (
            (QWebEngineSettings.WebAttribute.JavascriptEnabled, True),
            (QWebEngineSettings.WebAttribute.LocalContentCanAccessRemoteUrls, False),
            (QWebEngineSettings.WebAttribute.LocalContentCanAccessFileUrls, False),
            (QWebEngineSettings.WebAttribute.JavascriptCanOpenWindows, False),
            (QWebEngineSettings.WebAttribute.JavascriptCanAccessClipboard, False),
            (QWebEngineSettings.WebAttribute.PluginsEnabled, False),
            (QWebEngineSettings.WebAttribute.ErrorPageEnabled, False),
            (QWebEngineSettings.WebAttribute.NavigateOnDropEnabled, False),
        ):
            settings.setAttribute(attribute, on)
        self._bridge = _Bridge(self)
        self._bridge.copy_text.connect(self._on_copy)
        self._bridge.action.connect(self.message_action)
        self._bridge.starter.connect(self.starter_chosen)
        self._bridge.ready.connect(self.page_ready)
        self._bridge.attachment.connect(self.attachment_opened)
        self._bridge.older.connect(self.older_wanted)
        channel = QWebChannel(page)
        channel.registerObject("bridge", self._bridge)
        page.setWebChannel(channel)
        page.link_clicked.connect(self._on_link)
        page.loadFinished.connect(self._on_loaded)
        self.setPage(page)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)

        self._loaded = False
        self._queue: list[str] = []
        self._shown: list[dict[str, object]] = []  # what the page holds (or will), in order
        self._unsent = 0  # how many of the oldest in _shown are still to be prepended
        self._theme = "system"
        self._generation = 0

        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.timeout.connect(self._flush)
        self._interval = FRAME_SECONDS
        self._last_flush = 0.0
        self._reset_stream()

        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._on_color_scheme)
        self._apply_theme()
        page.load(PAGE_URL)

    # -- page plumbing -------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._loaded

    def _call(self, function: str, *args: object) -> None:
        # ensure_ascii keeps the script pure ASCII: no encoding surprises on the way to V8.
        script = f"phidesk.{function}({', '.join(json.dumps(a) for a in args)});"
        if self._loaded:
            self.page().runJavaScript(script, 0)
        else:
            self._queue.append(script)

    @Slot(bool)
    def _on_loaded(self, ok: bool) -> None:
        if not ok:
            log.error("the transcript page failed to load")
            return
        self._loaded = True
        queued, self._queue = self._queue, []
        self._apply_theme()
        self.page().runJavaScript(f"phidesk.setBaseSize({base_text_px():.2f});", 0)
        for script in queued:
            self.page().runJavaScript(script, 0)

    @Slot(str)
    def _on_copy(self, text: str) -> None:
        if self.copies_to_clipboard:
            QGuiApplication.clipboard().setText(text)
        self.copy_requested.emit(text)

    @Slot(QUrl)
    def _on_link(self, url: QUrl) -> None:
        self.link_clicked.emit(url)
        if self.open_links_externally and url.scheme().lower() in EXTERNAL_SCHEMES:
            QDesktopServices.openUrl(url)

    # -- messages ------------------------------------------------------------------------
    def set_messages(self, messages: Iterable[TranscriptMessage | Sequence[object]]) -> None:
        """Show a whole chat. The end (what the user sees first) is sent first."""
        items = [_message_json(m) for m in messages]
        self._generation += 1
        self._reset_stream()
        first = max(0, len(items) - FIRST_BATCH)
        self._shown = items
        self._unsent = first
        self._call("setMessages", items[first:])
        self._prepend_later(items[:first], self._generation)
        self._scroll_when_sent(self._generation)

    def sync_messages(
        self,
        messages: Iterable[TranscriptMessage | Sequence[object]],
        *,
        focus: str | None = None,
    ) -> None:
        """Show `messages` like `set_messages`, but keep every message above the first one that
        differs as it is (and where it is on screen); only the rest is rebuilt. `focus`: the
        message that takes the keyboard focus if a replaced message held it."""
        messages = list(messages)
        items = [_message_json(m) for m in messages]
        same = 0
        for old, new in zip(self._shown, items, strict=False):
            if old != new:
                break
            same += 1
        if same < self._unsent or self._stream_id is not None:
            self.set_messages(messages)
            return
        keep = str(self._shown[same - 1]["id"]) if same else None
        self._shown = items
        self._call("replaceAfter", keep, items[same:], focus)

    def _prepend_later(self, older: list[dict[str, object]], generation: int) -> None:
        if not older or generation != self._generation:
            return
        start = max(0, len(older) - LATER_BATCH)
        batch, rest = older[start:], older[:start]

        def send() -> None:
            if generation == self._generation:
                self._call("prependMessages", batch)
                self._unsent = len(rest)
                self._prepend_later(rest, generation)

        QTimer.singleShot(0, self, send)

    @property
    def fully_sent(self) -> bool:
        """Whether every message of the last `set_messages` has reached the page."""
        return self._unsent == 0

    @property
    def first_message_id(self) -> str | None:
        return str(self._shown[0]["id"]) if self._shown else None

    @property
    def message_count(self) -> int:
        return len(self._shown)

    def prepend_messages(self, messages: Iterable[TranscriptMessage | Sequence[object]]) -> None:
        """Add older messages above the first one; what the user looks at stays in place."""
        items = [_message_json(m) for m in messages]
        if items:
            self._shown[:0] = items
            self._call("prependMessages", items)

    def set_has_older(self, more: bool) -> None:
        """Whether older messages can be loaded: near the top, the page emits `older_wanted`."""
        self._call("setOlder", more)

    def append_message(self, message: TranscriptMessage | Sequence[object]) -> None:
        """Add a message at the end (or replace the one with the same id)."""
        item = _message_json(message)
        if item["role"] == "user" and self._shown and self._shown[-1] == item:
            return  # already the last message, exactly so (a question shown once stored)
        for index, shown in enumerate(self._shown):
            if shown["id"] == item["id"]:
                self._shown[index] = item
                break
        else:
            self._shown.append(item)
        self._call("appendMessage", item)

    def remove_message(self, message_id: str) -> None:
        self._shown = [m for m in self._shown if m["id"] != message_id]
        self._call("removeMessage", message_id)

    _scroll_target: str | None = None

    def scroll_to_message(self, message_id: str) -> None:
        """Bring `message_id` into view and highlight it for a moment (opening a search hit):
        now if the page shows it, and again once the next `set_messages` (a chat being opened)
        has sent it; a message older than the batches sent so far waits for its batch."""
        self._scroll_target = message_id
        self._scroll_when_sent(self._generation, keep=True)

    def _scroll_when_sent(self, generation: int, *, keep: bool = False) -> None:
        target = self._scroll_target
        if target is None or generation != self._generation:
            return
        index = next((i for i, m in enumerate(self._shown) if m["id"] == target), None)
        if index is not None and index < self._unsent:  # its batch is on its way
            QTimer.singleShot(0, self, lambda: self._scroll_when_sent(generation, keep=keep))
            return
        self._scroll_target = target if keep else None
        if index is not None:
            self._call("scrollToMessage", target)

    def announce(self, text: str) -> None:
        """Have screen readers say `text` (a polite live region on the page)."""
        self._call("announce", text)

    def set_starters(self, heading: str, starters: Sequence[tuple[str, str]]) -> None:
        """What an empty chat shows: `heading` and (label, prompt) buttons; a click emits
        `starter_chosen(prompt)`."""
        items = [{"label": label, "prompt": prompt} for label, prompt in starters]
        self._call("setStarters", heading, items)

    def set_attachments(self, chips: Mapping[str, Sequence[Mapping[str, str]]]) -> None:
        """The chips of attached files, by question id (each {attachment, name, detail, kind});
        kept for messages shown later. A click emits `attachment_opened`."""
        self._call("setAttachments", {k: [dict(c) for c in v] for k, v in chips.items()})

    def mark_out_of_context(self, message_ids: Iterable[str]) -> None:
        """Flag exactly these messages as "not in context" (the model no longer sees them)."""
        self._call("markOutOfContext", sorted(set(message_ids)))

    def set_thinking(
        self, message_id: str, html: str, *, running: bool, seconds: float = 0.0
    ) -> None:
        """Show a message's reasoning. While `running`, a live timer counts from `seconds`."""
        self._pending_thinking[message_id] = (html, running, seconds)
        if running:
            self._schedule()
        else:
            self._flush()

    # -- streaming -----------------------------------------------------------------------
    def _reset_stream(self) -> None:
        self._stream_id: str | None = None
        self._source: StreamRenderer | None = None
        self._pending_first: int | None = None
        self._pending_appended: list[str] = []
        self._pending_revised: dict[int, str] = {}
        self._pending_tail: str | None = None
        self._pending_thinking: dict[str, tuple[str, bool, float]] = {}
        self._sent_blocks: list[str] = []
        self._sent_tail = ""

    def begin_stream(self, message_id: str, renderer: StreamRenderer | None = None) -> None:
        """Start showing `message_id` live. With `renderer`, the view pulls its updates."""
        self._flush()
        self._reset_stream()
        self._stream_id = message_id
        self._source = renderer
        self._call("beginStream", message_id)
        if renderer is not None:
            self._schedule()

    def apply(self, update: StreamUpdate) -> None:
        """Queue a StreamRenderer update; the page is patched at most 60 times a second."""
        if self._stream_id is None:
            raise RuntimeError("apply() needs begin_stream() first")
        self._merge(update)
        self._schedule()

    def end_stream(self, final_html: str) -> None:
        """Finish the live message with the canonical full render."""
        if self._stream_id is None:
            return
        self._flush()
        shown = "".join(self._sent_blocks) + self._sent_tail
        self._call("endStream", self._stream_id, None if final_html == shown else final_html)
        self._reset_stream()

    def _merge(self, update: StreamUpdate) -> None:
        if self._pending_first is None:
            self._pending_first = update.first_index
        known = self._pending_first
        for index, html in update.revised:
            if index < known:
                self._pending_revised[index] = html
            else:
                self._pending_appended[index - known] = html
        self._pending_appended.extend(update.appended)
        self._pending_tail = update.tail

    def _schedule(self) -> None:
        if self._frame.isActive():
            return
        wait = self._last_flush + self._interval - time.monotonic()
        self._frame.start(max(0, round(wait * 1000)))

    @Slot()
    def _flush(self) -> None:
        self._frame.stop()
        started = time.perf_counter()
        if self._source is not None and self._source.pending:
            self._merge(self._source.take())
        patched = False
        if self._stream_id is not None and self._pending_tail is not None:
            first = self._pending_first or 0
            revised = sorted(self._pending_revised.items())
            self._call(
                "patch",
                self._stream_id,
                first,
                self._pending_appended,
                [list(pair) for pair in revised],
                self._pending_tail,
            )
            for index, html in revised:
                self._sent_blocks[index] = html
            del self._sent_blocks[first:]
            self._sent_blocks.extend(self._pending_appended)
            self._sent_tail = self._pending_tail
            self._pending_first = None
            self._pending_appended = []
            self._pending_revised = {}
            self._pending_tail = None
            patched = True
        for message_id, (html, running, seconds) in self._pending_thinking.items():
            self._call("setThinking", message_id, html, running, seconds)
            patched = True
        self._pending_thinking = {}
        if patched:
            self.patch_count += 1
            self.last_patch_seconds = time.perf_counter() - started
            # Never spend more than about half of the GUI thread on patches.
            self._interval = max(FRAME_SECONDS, 2 * self.last_patch_seconds)
            self._last_flush = time.monotonic()
        if self._source is not None:  # keep pulling while the stream is open
            self._frame.start(max(1, round(self._interval * 1000)))

    # -- theme ---------------------------------------------------------------------------
    def set_theme(self, theme: str) -> None:
        """ "light", "dark", or "system" (follow the desktop's colour scheme; the default)."""
        if theme not in ("light", "dark", "system"):
            raise ValueError(f"unknown theme {theme!r}")
        self._theme = theme
        self._apply_theme()

    def effective_theme(self) -> str:
        if self._theme != "system":
            return self._theme
        scheme = QGuiApplication.styleHints().colorScheme()
        return "dark" if scheme == Qt.ColorScheme.Dark else "light"

    @Slot(Qt.ColorScheme)
    def _on_color_scheme(self, _scheme: Qt.ColorScheme) -> None:
        if self._theme == "system":
            self._apply_theme()

    def _apply_theme(self) -> None:
        theme = self.effective_theme()
        self.page().setBackgroundColor(page_background(theme))
        if self._loaded:
            self.page().runJavaScript(f"phidesk.setTheme({json.dumps(theme)});", 0)

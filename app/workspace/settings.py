"""The user's preferences, typed, in one store that every front end shares.

`SettingsStore` is the only reader and writer of `settings.json` in the running app. It loads the
file once, hands out `Preferences` (nested dataclasses), saves atomically, and tells listeners
which sections changed. Another process (`phidesk` commands, a second window) may write the file
too: `reload_if_changed()` picks such edits up, and `update()` merges on save, so a key this
process did not change keeps the value on disk. Keys PhiDesk does not know are kept as they are.

The file stays flat JSON, as earlier versions wrote it (`default_model`, `theme`, `host_url`,
`window_geometry`, `splitter_sizes`, `last_chat`, `quick_model`, `keep_in_tray`,
`start_minimised`, `quick_hotkey`, `model_defaults`, `stall_timeout`, `ollama_source`,
`ollama_update_check`, `ollama_keep_running`, `ollama_connected_once`, `text_zoom`, `send_with`,
`default_system_prompt`, `attachment_limit_mb`, `embedding_model`), so upgrading keeps every
choice.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.backend.ollama_setup import OLLAMA_SOURCES, OllamaSource
from app.chat.documents import DEFAULT_LIMIT_MB as DEFAULT_ATTACHMENT_LIMIT_MB
from app.config import Settings
from app.store import ChatSettings

log = logging.getLogger(__name__)

DEFAULT_QUICK_HOTKEY = "Ctrl+Alt+Space"
DEFAULT_STALL_TIMEOUT = 300
THEMES = ("system", "light", "dark")
SEND_KEYS = ("enter", "ctrl+enter")
"""Which key sends a message; the other one (Shift+Enter with "enter") breaks the line."""
ZOOM_RANGE = (50, 300)
"""The transcript's text size, in percent of the application font."""


@dataclass(frozen=True)
class WindowState:
    """Where the main window was, how its splitter was set, and the chat that was open."""

    geometry: str = ""
    """Qt's saveGeometry() bytes, base64."""
    splitter_sizes: tuple[int, ...] = ()
    last_chat: int | None = None


@dataclass(frozen=True)
class QuickAccess:
    """The quick prompt and the tray."""

    model: str = ""
    keep_in_tray: bool = False
    start_minimised: bool = False
    hotkey: str = DEFAULT_QUICK_HOTKEY
    """A Qt key sequence in portable text; "" for none."""


@dataclass(frozen=True)
class ModelDefaults:
    """Chat options a new chat with this model starts with (the last ones the user chose)."""

    num_ctx: int | None = None
    temperature: float | None = None
    seed: int | None = None
    think: bool | None = None
    keep_alive: str | None = None

    def chat_settings(self) -> ChatSettings:
        return ChatSettings(
            num_ctx=self.num_ctx,
            temperature=self.temperature,
            seed=self.seed,
            think=self.think,
            keep_alive=self.keep_alive,
        )

    @classmethod
    def of(cls, settings: ChatSettings) -> ModelDefaults:
        return cls(
            num_ctx=settings.num_ctx,
            temperature=settings.temperature,
            seed=settings.seed,
            think=settings.think,
            keep_alive=settings.keep_alive,
        )


@dataclass(frozen=True)
class OllamaPreferences:
    """Which Ollama PhiDesk starts, and PhiDesk's own copy of it (app.backend.ollama_setup)."""

    source: OllamaSource = "auto"
    """"auto": an Ollama installed on this computer, else PhiDesk's own copy; "installed": never
    PhiDesk's copy; "managed": PhiDesk's copy even when another is installed. A server that
    already answers is always used as it is."""
    update_check: bool | None = None
    """Look for a newer Ollama once a day; None until the user was asked."""
    keep_running: bool = False
    """Leave the Ollama PhiDesk started running when PhiDesk quits."""
    connected_once: bool = False
    """A connection to Ollama was made at least once (the first-start page is for before)."""


@dataclass(frozen=True)
class Preferences:
    """Everything the user chose that is not a chat. Immutable: change it with `replace`."""

    default_model: str = ""
    theme: str = "system"
    host_url: str = ""
    """The Ollama host last chosen in the window ("" for the one PhiDesk was started with)."""
    window: WindowState = field(default_factory=WindowState)
    quick: QuickAccess = field(default_factory=QuickAccess)
    model_defaults: dict[str, ModelDefaults] = field(default_factory=dict)
    stall_timeout: int = DEFAULT_STALL_TIMEOUT
    """Seconds without a token (or pull progress) after which an answer or a pull is given up,
    the wait for a model to load included."""
    ollama: OllamaPreferences = field(default_factory=OllamaPreferences)
    text_zoom: int = 100
    """The transcript's text size in percent (Ctrl+= / Ctrl+- / Ctrl+0)."""
    send_with: str = "enter"
    """"enter": Enter sends, Shift+Enter breaks the line; "ctrl+enter": Ctrl+Enter sends."""
    default_system_prompt: str = ""
    """The system prompt new chats start with ("" for none)."""
    generated_titles: bool = True
    """In the window and the quick prompt, the chat's own model titles a chat after its first
    answer (never `phidesk ask`)."""
    attachment_limit_mb: int = DEFAULT_ATTACHMENT_LIMIT_MB
    """The largest file that may be attached to a message, in MB."""
    embedding_model: str = ""
    """The Ollama model that ranks the parts of attached documents by embeddings ("" for none:
    SQLite FTS5 BM25 ranks them)."""
    compare_picks: dict[str, str] = field(default_factory=dict)
    """Per model family (the name before the tag: `phi4`, `phi4-mini`): the variant the user
    picked in a comparison ("pick this one"), the default for new chats with that family."""

    def defaults_for(self, model: str) -> ChatSettings:
        found = self.model_defaults.get(model)
        return found.chat_settings() if found is not None else ChatSettings()

    def picked_variant(self, model: str) -> str | None:
        """The variant picked in a comparison for the family of `model`, if any."""
        return self.compare_picks.get(model_family(model))


def model_family(model: str) -> str:
    """`phi4:14b-q8_0` → `phi4`: the name before the tag."""
    return model.split(":", 1)[0]


SECTIONS = (
    "default_model",
    "theme",
    "host_url",
    "window",
    "quick",
    "model_defaults",
    "stall_timeout",
    "ollama",
    "text_zoom",
    "send_with",
    "default_system_prompt",
    "generated_titles",
    "attachment_limit_mb",
    "embedding_model",
    "compare_picks",
)
"""The names listeners receive in a change: the fields of `Preferences`."""


# --- the flat file format ------------------------------------------------------------------


def _str(raw: dict[str, Any], key: str, default: str = "") -> str:
    value = raw.get(key, default)
    return value if isinstance(value, str) else default


def _bool(raw: dict[str, Any], key: str) -> bool:
    return raw.get(key) is True


def _opt_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _opt_float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _positive_int(value: object, default: int) -> int:
    found = _opt_int(value)
    return found if found is not None and found > 0 else default


def _model_defaults(value: object) -> dict[str, ModelDefaults]:
    if not isinstance(value, dict):
        return {}
    result: dict[str, ModelDefaults] = {}
    for model, raw in value.items():
        if not isinstance(model, str) or not isinstance(raw, dict):
            continue
        think = raw.get("think")
        keep_alive = raw.get("keep_alive")
        result[model] = ModelDefaults(
            num_ctx=_opt_int(raw.get("num_ctx")),
            temperature=_opt_float(raw.get("temperature")),
            seed=_opt_int(raw.get("seed")),
            think=think if isinstance(think, bool) else None,
            keep_alive=keep_alive if isinstance(keep_alive, str) else None,
        )
    return result


def from_flat(raw: dict[str, Any]) -> Preferences:
    sizes = raw.get("splitter_sizes")
    splitter = (
        tuple(v for v in sizes if isinstance(v, int) and not isinstance(v, bool))
        if isinstance(sizes, list)
        else ()
    )
    theme = _str(raw, "theme", "system")
    return Preferences(
        default_model=_str(raw, "default_model"),
        theme=theme if theme in THEMES else "system",
        host_url=_str(raw, "host_url"),
        window=WindowState(
            geometry=_str(raw, "window_geometry"),
            splitter_sizes=splitter,
            last_chat=_opt_int(raw.get("last_chat")),
        ),
        quick=QuickAccess(
            model=_str(raw, "quick_model"),
            keep_in_tray=_bool(raw, "keep_in_tray"),
            start_minimised=_bool(raw, "start_minimised"),
            hotkey=_str(raw, "quick_hotkey", DEFAULT_QUICK_HOTKEY),
        ),
        model_defaults=_model_defaults(raw.get("model_defaults")),
        stall_timeout=_positive_int(raw.get("stall_timeout"), DEFAULT_STALL_TIMEOUT),
        ollama=_ollama(raw),
        text_zoom=_zoom(raw.get("text_zoom")),
        send_with=send if (send := _str(raw, "send_with", "enter")) in SEND_KEYS else "enter",
        default_system_prompt=_str(raw, "default_system_prompt"),
        generated_titles=raw.get("generated_titles") is not False,
        attachment_limit_mb=_positive_int(
            raw.get("attachment_limit_mb"), DEFAULT_ATTACHMENT_LIMIT_MB
        ),
        embedding_model=_str(raw, "embedding_model"),
        compare_picks=_picks(raw.get("compare_picks")),
    )


def _picks(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str) and v}


def _zoom(value: object) -> int:
    found = _opt_int(value)
    low, high = ZOOM_RANGE
    return 100 if found is None else min(max(found, low), high)


def _ollama(raw: dict[str, Any]) -> OllamaPreferences:
    found = [s for s in OLLAMA_SOURCES if s == raw.get("ollama_source")]
    source: OllamaSource = found[0] if found else "auto"
    check = raw.get("ollama_update_check")
    return OllamaPreferences(
        source=source,
        update_check=check if isinstance(check, bool) else None,
        keep_running=_bool(raw, "ollama_keep_running"),
        connected_once=_bool(raw, "ollama_connected_once"),
    )


def to_flat(prefs: Preferences) -> dict[str, Any]:
    """The keys each section owns in the file (a section absent from the file stays absent
    until it changes, so this is only used for sections that changed)."""
    return {
        "default_model": prefs.default_model,
        "theme": prefs.theme,
        "host_url": prefs.host_url,
        "window_geometry": prefs.window.geometry,
        "splitter_sizes": list(prefs.window.splitter_sizes),
        "last_chat": prefs.window.last_chat,
        "quick_model": prefs.quick.model,
        "keep_in_tray": prefs.quick.keep_in_tray,
        "start_minimised": prefs.quick.start_minimised,
        "quick_hotkey": prefs.quick.hotkey,
        "model_defaults": {
            model: {
                "num_ctx": d.num_ctx,
                "temperature": d.temperature,
                "seed": d.seed,
                "think": d.think,
                "keep_alive": d.keep_alive,
            }
            for model, d in prefs.model_defaults.items()
        },
        "stall_timeout": prefs.stall_timeout,
        "ollama_source": prefs.ollama.source,
        "ollama_update_check": prefs.ollama.update_check,
        "ollama_keep_running": prefs.ollama.keep_running,
        "ollama_connected_once": prefs.ollama.connected_once,
        "text_zoom": prefs.text_zoom,
        "send_with": prefs.send_with,
        "default_system_prompt": prefs.default_system_prompt,
        "generated_titles": prefs.generated_titles,
        "attachment_limit_mb": prefs.attachment_limit_mb,
        "embedding_model": prefs.embedding_model,
        "compare_picks": dict(prefs.compare_picks),
    }


SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "default_model": ("default_model",),
    "theme": ("theme",),
    "host_url": ("host_url",),
    "window": ("window_geometry", "splitter_sizes", "last_chat"),
    "quick": ("quick_model", "keep_in_tray", "start_minimised", "quick_hotkey"),
    "model_defaults": ("model_defaults",),
    "stall_timeout": ("stall_timeout",),
    "ollama": (
        "ollama_source",
        "ollama_update_check",
        "ollama_keep_running",
        "ollama_connected_once",
    ),
    "text_zoom": ("text_zoom",),
    "send_with": ("send_with",),
    "default_system_prompt": ("default_system_prompt",),
    "generated_titles": ("generated_titles",),
    "attachment_limit_mb": ("attachment_limit_mb",),
    "embedding_model": ("embedding_model",),
    "compare_picks": ("compare_picks",),
}


def _read_flat(path: Path) -> dict[str, Any]:
    settings = Settings.load(path)
    raw = dict(settings.extra)
    raw["default_model"] = settings.default_model
    raw["theme"] = settings.theme
    return raw


def _write_flat(path: Path, raw: dict[str, Any]) -> None:
    values = dict(raw)
    default_model = values.pop("default_model", "")
    theme = values.pop("theme", "system")
    Settings(
        default_model=default_model if isinstance(default_model, str) else "",
        theme=theme if isinstance(theme, str) else "system",
        extra=values,
    ).save(path)
    if os.name == "posix":
        path.chmod(0o600)


def changed_sections(before: Preferences, after: Preferences) -> frozenset[str]:
    return frozenset(s for s in SECTIONS if getattr(before, s) != getattr(after, s))


SettingsListener = Callable[[Preferences, frozenset[str]], None]


class SettingsStore:
    """Loads `settings.json` once; `update()` changes, saves and notifies. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._listeners: list[SettingsListener] = []
        self._stamp = self._file_stamp()
        self._raw = _read_flat(path)
        self._prefs = from_flat(self._raw)

    @property
    def current(self) -> Preferences:
        return self._prefs

    def subscribe(self, listener: SettingsListener) -> Callable[[], None]:
        """Call `listener(preferences, sections)` after every change; returns an unsubscribe."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def update(self, change: Callable[[Preferences], Preferences]) -> Preferences:
        """Apply `change` to the current preferences, save (merged with the file as it is on
        disk now) and notify. Raises OSError when the file cannot be written; the change then
        still holds for this run."""
        with self._lock:
            before = self._prefs
            after = change(before)
            sections = changed_sections(before, after)
            if not sections:
                return after
            self._prefs = after
            try:
                merged = self._save(after, sections)
                # Sections another process changed on disk since this one last read the file
                # are now in the file; this process sees them too.
                on_disk = from_flat(merged)
                after = replace(
                    after, **{s: getattr(on_disk, s) for s in SECTIONS if s not in sections}
                )
                self._prefs = after
                sections = changed_sections(before, after)
            finally:
                self._notify(after, sections)
            return after

    def set(self, **sections: Any) -> Preferences:
        """`store.set(theme="dark")`: replace whole sections."""
        return self.update(lambda p: replace(p, **sections))

    def reload_if_changed(self) -> frozenset[str]:
        """Pick up an edit another process made to the file; returns the sections it changed."""
        with self._lock:
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return frozenset()
            self._stamp = stamp
            raw = _read_flat(self.path)
            self._raw = raw
            after = from_flat(raw)
            sections = changed_sections(self._prefs, after)
            self._prefs = after
        if sections:
            self._notify(after, sections)
        return sections

    def _save(self, prefs: Preferences, sections: frozenset[str]) -> dict[str, Any]:
        """Write `sections` of `prefs` into the file as it is on disk now; returns what was
        written."""
        on_disk = _read_flat(self.path)
        flat = to_flat(prefs)
        merged = copy.deepcopy(on_disk)
        for section in sections:
            for key in SECTION_KEYS[section]:
                merged[key] = flat[key]
        _write_flat(self.path, merged)
        self._raw = merged
        self._stamp = self._file_stamp()
        return merged

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        # Every save replaces the file, so the inode tells a rewrite apart even when the size
        # and the (coarse) modification time came out the same.
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def _notify(self, prefs: Preferences, sections: frozenset[str]) -> None:
        for listener in list(self._listeners):
            try:
                listener(prefs, sections)
            except Exception:
                log.exception("a settings listener failed")

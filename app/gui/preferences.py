"""Preferences (Ctrl+,): what the user chooses once for every chat. Each change is saved at once
(there is nothing to lose by closing), through the workspace's settings store, so other windows
and processes see it and the main window applies it.

Pages: General (default model, theme, text size, the key that sends, the default system prompt),
Answers (stall timeout), Quick prompt and tray (the existing panel), and Ollama (which Ollama
PhiDesk starts, the daily update check, keep it running on quit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import cast

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QRadioButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.backend.ollama_setup import OllamaSource
from app.errors import PhiDeskError
from app.workspace import Workspace
from app.workspace.settings import SEND_KEYS, THEMES, ZOOM_RANGE, Preferences

log = logging.getLogger(__name__)

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
SEND_LABELS = {
    "enter": "Enter sends, Shift+Enter starts a new line",
    "ctrl+enter": "Ctrl+Enter sends, Enter starts a new line",
}
SOURCE_LABELS = {
    "auto": "An Ollama installed on this computer, else PhiDesk's own copy",
    "installed": "Only an Ollama installed on this computer",
    "managed": "PhiDesk's own copy, even when another is installed",
}
PROMPT_SAVE_DELAY_MS = 600
"""The default system prompt is saved this long after the last keystroke."""


def _label(text: str, buddy: QWidget) -> QLabel:
    label = QLabel(text)
    label.setBuddy(buddy)
    return label


def _form(page: QWidget) -> QFormLayout:
    """A form at the top of `page`, its rows as tall as they need and no taller."""
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    layout = QVBoxLayout(page)
    layout.addLayout(form)
    layout.addStretch(1)
    return form


class PreferencesDialog(QDialog):
    """See the module docstring. `models` are the installed model names for the default model;
    `tray_panel(parent)` builds the quick prompt and tray page (None where there is none)."""

    def __init__(
        self,
        workspace: Workspace,
        models: list[tuple[str, str]],
        tray_panel: Callable[[QWidget], QWidget] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("PreferencesDialog")
        self.setWindowTitle("Preferences")
        self.setStyleSheet("QLabel#Hint { color: palette(placeholder-text); }")
        self.workspace = workspace
        prefs = workspace.prefs
        self.error = QLabel()
        self.error.setObjectName("PreferencesError")
        self.error.setWordWrap(True)
        self.error.hide()

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Preference pages")
        self.tabs.addTab(self._general_page(prefs, models), "&General")
        self.tabs.addTab(self._answers_page(prefs), "&Answers")
        if tray_panel is not None:
            self.tabs.addTab(tray_panel(self), "&Quick prompt and tray")
        self.tabs.addTab(self._ollama_page(prefs), "&Ollama")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(600, 460)

    # --- pages ------------------------------------------------------------------------------

    def _general_page(self, prefs: Preferences, models: list[tuple[str, str]]) -> QWidget:
        page = QWidget()
        form = _form(page)
        self.default_model = QComboBox()
        self.default_model.setObjectName("DefaultModel")
        self.default_model.setAccessibleName("Default model")
        self.default_model.addItem("Choose in each chat", "")
        for name, label in models:
            self.default_model.addItem(label, name)
        if prefs.default_model and self.default_model.findData(prefs.default_model) < 0:
            self.default_model.addItem(
                f"{prefs.default_model} (not installed)", prefs.default_model
            )
        self.default_model.setCurrentIndex(max(self.default_model.findData(prefs.default_model), 0))
        self.default_model.currentIndexChanged.connect(self._default_model_chosen)
        form.addRow(_label("Default &model:", self.default_model), self.default_model)

        self.theme = QComboBox()
        self.theme.setObjectName("Theme")
        self.theme.setAccessibleName("Theme")
        for choice in THEMES:
            self.theme.addItem(THEME_LABELS[choice], choice)
        self.theme.setCurrentIndex(max(self.theme.findData(prefs.theme), 0))
        self.theme.currentIndexChanged.connect(self._theme_chosen)
        form.addRow(_label("&Theme:", self.theme), self.theme)

        self.zoom = QSpinBox()
        self.zoom.setObjectName("TextZoom")
        self.zoom.setAccessibleName("Text size of the conversation, in percent")
        self.zoom.setRange(*ZOOM_RANGE)
        self.zoom.setSingleStep(10)
        self.zoom.setSuffix(" %")
        self.zoom.setValue(prefs.text_zoom)
        self.zoom.valueChanged.connect(self._zoom_chosen)
        zoom_hint = QLabel("Also Ctrl+= and Ctrl+- in the window; Ctrl+0 resets.")
        zoom_hint.setObjectName("Hint")
        form.addRow(_label("Te&xt size:", self.zoom), self.zoom)
        form.addRow("", zoom_hint)

        self.send_keys = QButtonGroup(page)
        send_box = QVBoxLayout()
        for index, mode in enumerate(SEND_KEYS):
            button = QRadioButton(SEND_LABELS[mode])
            button.setObjectName(f"Send-{mode}")
            button.setChecked(prefs.send_with == mode)
            self.send_keys.addButton(button, index)
            send_box.addWidget(button)
        self.send_keys.idClicked.connect(self._send_key_chosen)
        form.addRow("Sending:", send_box)

        self.system_prompt = QPlainTextEdit(prefs.default_system_prompt)
        self.system_prompt.setObjectName("DefaultSystemPrompt")
        self.system_prompt.setAccessibleName("Default system prompt for new chats")
        self.system_prompt.setPlaceholderText("None: the model's own behaviour")
        self.system_prompt.setTabChangesFocus(True)
        self.system_prompt.setMaximumHeight(110)
        self._prompt_timer = QTimer(self)
        self._prompt_timer.setSingleShot(True)
        self._prompt_timer.setInterval(PROMPT_SAVE_DELAY_MS)
        self._prompt_timer.timeout.connect(self._save_system_prompt)
        self.system_prompt.textChanged.connect(self._prompt_timer.start)
        form.addRow(_label("Default s&ystem prompt:", self.system_prompt), self.system_prompt)

        self.titles = QCheckBox("Let the chat's own model title each new chat")
        self.titles.setObjectName("GeneratedTitles")
        self.titles.setToolTip(
            "After the first answer, on this computer's models only; reasoning models keep the "
            "first line of your message"
        )
        self.titles.setChecked(prefs.generated_titles)
        self.titles.toggled.connect(self._titles_chosen)
        form.addRow("", self.titles)
        return page

    def _answers_page(self, prefs: Preferences) -> QWidget:
        page = QWidget()
        form = _form(page)
        self.stall = QSpinBox()
        self.stall.setObjectName("StallTimeout")
        self.stall.setAccessibleName("Give up on a silent server after, in seconds")
        self.stall.setRange(10, 3600)
        self.stall.setSingleStep(30)
        self.stall.setSuffix(" s")
        self.stall.setValue(prefs.stall_timeout)
        self.stall.valueChanged.connect(self._stall_chosen)
        form.addRow(_label("Give up after &silence of:", self.stall), self.stall)
        hint = QLabel(
            "How long PhiDesk waits for the next token (or for a model to load) before it "
            "stops waiting and keeps the answer as interrupted. Large models on a CPU can take "
            "minutes to load."
        )
        hint.setObjectName("Hint")
        hint.setWordWrap(True)
        form.addRow("", hint)
        return page

    def _ollama_page(self, prefs: Preferences) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        heading = QLabel("When no Ollama is running, PhiDesk starts:")
        layout.addWidget(heading)
        self.sources = QButtonGroup(page)
        self._source_ids: dict[int, str] = {}
        for index, (source, label) in enumerate(SOURCE_LABELS.items()):
            button = QRadioButton(label)
            button.setObjectName(f"Source-{source}")
            button.setChecked(prefs.ollama.source == source)
            self.sources.addButton(button, index)
            self._source_ids[index] = source
            layout.addWidget(button)
        self.sources.idClicked.connect(self._source_chosen)
        note = QLabel("An Ollama that is already running is always used as it is.")
        note.setObjectName("Hint")
        note.setWordWrap(True)
        layout.addWidget(note)
        self.update_check = QCheckBox("Look for a newer Ollama once a day (PhiDesk's own copy)")
        self.update_check.setObjectName("OllamaUpdateCheck")
        self.update_check.setChecked(prefs.ollama.update_check is True)
        self.update_check.toggled.connect(self._update_check_chosen)
        layout.addWidget(self.update_check)
        self.keep_running = QCheckBox("Keep the Ollama PhiDesk started running when PhiDesk quits")
        self.keep_running.setObjectName("OllamaKeepRunning")
        self.keep_running.setChecked(prefs.ollama.keep_running)
        self.keep_running.toggled.connect(self._keep_running_chosen)
        layout.addWidget(self.keep_running)
        layout.addStretch(1)
        return page

    # --- saving -----------------------------------------------------------------------------

    def _save(self, change: Callable[[Preferences], Preferences]) -> None:
        try:
            self.workspace.settings.update(change)
        except (OSError, PhiDeskError) as exc:
            log.warning("could not save a preference: %s", exc)
            self.error.setText(f"Could not save the preference: {exc}")
            self.error.show()
            return
        self.error.hide()

    @Slot(int)
    def _default_model_chosen(self, _index: int) -> None:
        name = self.default_model.currentData()
        self._save(lambda p: replace(p, default_model=name if isinstance(name, str) else ""))

    @Slot(int)
    def _theme_chosen(self, _index: int) -> None:
        theme = self.theme.currentData()
        self._save(lambda p: replace(p, theme=theme if theme in THEMES else "system"))

    @Slot(int)
    def _zoom_chosen(self, value: int) -> None:
        self._save(lambda p: replace(p, text_zoom=value))

    @Slot(int)
    def _send_key_chosen(self, index: int) -> None:
        mode = SEND_KEYS[index]
        self._save(lambda p: replace(p, send_with=mode))

    @Slot(bool)
    def _titles_chosen(self, on: bool) -> None:
        self._save(lambda p: replace(p, generated_titles=on))

    @Slot()
    def _save_system_prompt(self) -> None:
        text = self.system_prompt.toPlainText()
        self._save(lambda p: replace(p, default_system_prompt=text))

    @Slot(int)
    def _stall_chosen(self, value: int) -> None:
        self._save(lambda p: replace(p, stall_timeout=value))

    @Slot(int)
    def _source_chosen(self, index: int) -> None:
        source = cast(OllamaSource, self._source_ids[index])
        self._save(lambda p: replace(p, ollama=replace(p.ollama, source=source)))

    @Slot(bool)
    def _update_check_chosen(self, on: bool) -> None:
        self._save(lambda p: replace(p, ollama=replace(p.ollama, update_check=on)))

    @Slot(bool)
    def _keep_running_chosen(self, on: bool) -> None:
        self._save(lambda p: replace(p, ollama=replace(p.ollama, keep_running=on)))

    def done(self, result: int) -> None:
        if self._prompt_timer.isActive():  # a prompt typed just before closing is kept
            self._prompt_timer.stop()
            self._save_system_prompt()
        super().done(result)


def open_preferences(
    parent: QWidget,
    workspace: Workspace,
    models: list[tuple[str, str]],
    tray_panel: Callable[[QWidget], QWidget] | None = None,
) -> PreferencesDialog:
    dialog = PreferencesDialog(workspace, models, tray_panel, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog

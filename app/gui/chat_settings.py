"""Per-chat settings: system prompt (with saved presets), num_ctx, temperature, seed, thinking,
keep-alive."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.backend.models import ModelInfo
from app.errors import PhiDeskError
from app.gui.tasks import Tasks
from app.gui.theme import accent
from app.store import Chat, ChatSettings, DuplicateName
from app.workspace import DEFAULT_NUM_CTX, Workspace

NUM_CTX_STEPS = (2048, 4096, 8192, 16384, 32768, 65536, 131072)


@dataclass(frozen=True)
class ChatSettingsResult:
    system_prompt: str
    settings: ChatSettings


class ChatSettingsDialog(QDialog):
    """Edits one chat's settings. `vram_cost(num_ctx)` describes the memory a window costs."""

    def __init__(
        self,
        chat: Chat,
        workspace: Workspace,
        *,
        trained_context: int | None,
        supports_thinking: bool,
        vram_cost: Callable[[int], str | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Chat settings")
        self.setObjectName("ChatSettingsDialog")
        self.workspace = workspace
        self._tasks = Tasks()
        self._vram_cost = vram_cost
        settings = chat.settings

        self.presets = QComboBox()
        self.presets.setObjectName("PresetPicker")
        self.presets.setAccessibleName("System prompt presets")
        self.save_preset = QPushButton("Save as preset…")
        self.system = QPlainTextEdit(chat.system_prompt)
        self.system.setObjectName("SystemPrompt")
        self.system.setAccessibleName("System prompt")
        self.system.setPlaceholderText("Optional instructions for the model in this chat")

        self.num_ctx = QSpinBox()
        self.num_ctx.setObjectName("NumCtx")
        self.num_ctx.setAccessibleName("Context window (num_ctx)")
        top = trained_context or NUM_CTX_STEPS[-1]
        self.num_ctx.setRange(512, top)
        self.num_ctx.setSingleStep(1024)
        self.num_ctx.setValue(min(settings.num_ctx or DEFAULT_NUM_CTX, top))
        self.num_ctx.setSuffix(" tokens")
        self.num_ctx_cost = QLabel()
        self.num_ctx_cost.setObjectName("NumCtxCost")
        self.num_ctx_cost.setWordWrap(True)
        self.temperature = QDoubleSpinBox()
        self.temperature.setObjectName("Temperature")
        self.temperature.setRange(-0.01, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setSpecialValueText("model default")
        self.temperature.setValue(
            settings.temperature if settings.temperature is not None else -0.01
        )
        self.seed = QLineEdit("" if settings.seed is None else str(settings.seed))
        self.seed.setObjectName("Seed")
        self.seed.setPlaceholderText("random")
        self.think = QCheckBox("Let the model reason before answering")
        self.think.setObjectName("Think")
        self.think.setChecked(settings.think is not False)
        self.think.setEnabled(supports_thinking)
        if not supports_thinking:
            self.think.setToolTip(
                "This model has no thinking switch; its reasoning (if any) is shown apart anyway"
            )
        self.keep_alive = QComboBox()
        self.keep_alive.setObjectName("KeepAlive")
        self.keep_alive.setEditable(True)
        for value in ("", "5m", "30m", "1h", "-1m", "0"):
            self.keep_alive.addItem(value or "Ollama default", value)
        if settings.keep_alive:
            self.keep_alive.setEditText(settings.keep_alive)

        preset_row = QHBoxLayout()
        preset_row.addWidget(self.presets, 1)
        preset_row.addWidget(self.save_preset)
        form = QFormLayout()
        form.addRow("Preset", preset_row)
        form.addRow("System prompt", self.system)
        form.addRow("Context window", self.num_ctx)
        form.addRow("", self.num_ctx_cost)
        form.addRow("Temperature", self.temperature)
        form.addRow("Seed", self.seed)
        form.addRow("Thinking", self.think)
        form.addRow("Keep loaded", self.keep_alive)
        self.error = QLabel()
        self.error.setObjectName("SettingsError")
        self.error.setStyleSheet(f"color: {accent('error').name()}")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self._fill_presets()
        self.presets.activated.connect(self._preset_chosen)
        self.save_preset.clicked.connect(self._save_preset)
        self.num_ctx.valueChanged.connect(self._update_cost)
        self._update_cost()
        self.result_value: ChatSettingsResult | None = None
        self._base = settings

    def _fill_presets(self) -> None:
        self.presets.clear()
        self.presets.addItem("(choose a preset)", None)
        self._tasks.start(self._load_presets(), name="load presets")

    async def _load_presets(self) -> None:
        try:
            presets = await self.workspace.presets()
        except PhiDeskError as exc:
            self.error.setText(str(exc))
            return
        for preset in presets:
            self.presets.addItem(preset.name, preset.text)

    @Slot(int)
    def _preset_chosen(self, index: int) -> None:
        text = self.presets.itemData(index)
        if isinstance(text, str):
            self.system.setPlainText(text)

    @Slot()
    def _save_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Name of the preset:")
        if ok and name.strip():
            self._tasks.start(self._create_preset(name.strip()), name="save preset")

    async def _create_preset(self, name: str) -> None:
        try:
            await self.workspace.create_preset(name, self.system.toPlainText())
        except (DuplicateName, PhiDeskError) as exc:
            self.error.setText(str(exc))
            return
        self._fill_presets()

    @Slot()
    def _update_cost(self) -> None:
        cost = self._vram_cost(self.num_ctx.value()) if self._vram_cost else None
        self.num_ctx_cost.setText(cost or "Changing the window reloads the model.")

    @Slot()
    def _accept(self) -> None:
        seed_text = self.seed.text().strip()
        seed: int | None = None
        if seed_text:
            try:
                seed = int(seed_text)
            except ValueError:
                self.error.setText("The seed must be a whole number, or empty for random.")
                return
        keep = self.keep_alive.currentText().strip()
        if keep == "Ollama default":
            keep = ""
        temperature = self.temperature.value()
        self.result_value = ChatSettingsResult(
            system_prompt=self.system.toPlainText(),
            settings=ChatSettings(
                num_ctx=self.num_ctx.value(),
                temperature=None if temperature < 0 else round(temperature, 2),
                seed=seed,
                think=self.think.isChecked() if self.think.isEnabled() else self._base.think,
                keep_alive=keep or None,
                extra=dict(self._base.extra),
            ),
        )
        self.accept()


def open_chat_settings(
    parent: QWidget,
    workspace: Workspace,
    chat: Chat,
    info: ModelInfo | None,
    vram_cost: Callable[[int], str | None],
    *,
    on_saved: Callable[[], None],
) -> ChatSettingsDialog:
    """Open the settings of `chat` (window-modal, no nested event loop); what the user accepts
    is stored through the workspace and becomes the model's defaults for new chats."""
    dialog = ChatSettingsDialog(
        chat,
        workspace,
        trained_context=info.context_length if info else None,
        supports_thinking=bool(info and info.supports_thinking),
        vram_cost=vram_cost,
        parent=parent,
    )

    async def save(result: ChatSettingsResult) -> None:
        try:
            await workspace.configure(
                chat.id,
                system_prompt=result.system_prompt,
                settings=result.settings,
                remember_for_model=True,
            )
        except PhiDeskError as exc:
            workspace.notices.error(f"the chat settings were not saved: {exc}")
            return
        on_saved()

    def chosen() -> None:
        if dialog.result_value is not None:
            dialog._tasks.start(save(dialog.result_value), name="save chat settings")

    dialog.accepted.connect(chosen)
    dialog.open()
    return dialog

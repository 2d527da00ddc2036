"""The export records a chat's engine only when it is not the default (decision 2: a chat on
the default Ollama exports exactly the bytes it did before engines existed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from app.chat.transfer import chat_to_markdown, parse_markdown
from app.store import Chat, ChatSettings, ContextUsage

MADE = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
CHAT = Chat(
    1, "Sums", "normal", "phi4", "", ChatSettings(), False, MADE, MADE, None, ContextUsage(), 0
)


def test_the_default_engine_leaves_no_line_and_others_round_trip() -> None:
    plain = chat_to_markdown(CHAT, [], exported_at=MADE)
    assert "engine" not in plain
    assert parse_markdown(plain).chat.engine == "ollama"
    remote = replace(CHAT, model="microsoft/phi-4", engine="lab-vllm")
    text = chat_to_markdown(remote, [], exported_at=MADE)
    assert 'model: "microsoft/phi-4"\nengine: "lab-vllm"\n' in text
    assert parse_markdown(text).chat.engine == "lab-vllm"
    assert text.replace('engine: "lab-vllm"\n', "").replace("microsoft/phi-4", "phi4") == plain

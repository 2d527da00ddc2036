"""Engines through the application layer, with a real Secret Service and the OpenAI-compatible
double over a real socket: the key lives in the keyring and nowhere else (no file of the data,
config or log folders, no export, no log output), models are listed and filtered, a turn on the
remote engine is metered by the server's usage, an exported chat keeps its engine, and a chat
whose engine was removed asks for another."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import keyring
import pytest

from app.backend.client import OllamaClient
from app.backend.errors import Unauthorized
from app.backend.hosts import InsecureTokenRefused
from app.config import Paths
from app.errors import UsageError
from app.workspace import TurnFinished, TurnRefusedEvent, TurnState, Workspace
from app.workspace.engine_profiles import EngineProfile, EngineProfiles, normalize_url
from tests.ollama_double.server import OllamaDouble
from tests.openai_double.server import OpenAIDouble

pytestmark = pytest.mark.keyring_real

PHI = "microsoft/phi-4"


def with_workspace[T](work: Callable[[Workspace], Awaitable[T]]) -> T:
    async def main() -> T:
        paths = Paths.resolve().ensure()
        workspace = Workspace.open(paths, OllamaClient("http://127.0.0.1:9"))
        try:
            return await work(workspace)
        finally:
            await workspace.aclose()

    return asyncio.run(main())


def files_under(*folders: Path) -> list[Path]:
    return [p for folder in folders if folder.exists() for p in folder.rglob("*") if p.is_file()]


def test_the_key_lives_only_in_the_keyring(
    secret_service: str,
    openai_double: OpenAIDouble,
    data_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = f"sk-needle-{uuid.uuid4().hex}"
    header = f"hdr-needle-{uuid.uuid4().hex}"
    openai_double.require_key(key)
    openai_double.script_reply("Yes: $e^{i\\pi} + 1 = 0$.", reasoning="Euler.")

    async def work(ws: Workspace) -> tuple[int, TurnFinished | None, list[Path]]:
        profile = ws.add_engine(
            "lab", openai_double.url + "/", api_key=key, headers={"X-Team-Token": header}
        )
        assert profile.url == openai_double.url and profile.has_key
        chat = await ws.new_chat(PHI, engine="lab")
        turn = ws.send(chat.id, "Is Euler's identity true?")
        assert turn.task is not None
        await asyncio.wait([turn.task])
        written = await ws.export([chat.id], tmp_path / "export.md")
        return chat.id, turn.finished, written

    chat_id, finished, written = with_workspace(work)
    assert finished is not None and finished.state is TurnState.DONE
    sent = openai_double.requests_to("/v1/chat/completions")[0].headers
    assert sent["authorization"] == f"Bearer {key}" and sent["x-team-token"] == header
    assert keyring.get_password("phidesk", "engine:lab") == key
    paths = Paths.resolve()
    for path in files_under(data_dir, paths.config, paths.logs, *written):
        content = path.read_bytes()
        assert key.encode() not in content and header.encode() not in content, path
    assert key not in caplog.text and header not in caplog.text
    assert chat_id


def test_a_remote_turn_is_metered_and_its_export_keeps_the_engine(
    secret_service: str, openai_double: OpenAIDouble, tmp_path: Path
) -> None:
    openai_double.script_reply("Two.", reasoning="One plus one.")

    async def work(ws: Workspace) -> None:
        ws.add_engine("lab", openai_double.url)
        chat = await ws.new_chat(PHI, engine="lab")
        turn = ws.send(chat.id, "1+1?")
        assert turn.task is not None
        await asyncio.wait([turn.task])
        stored = await ws.chat(chat.id)
        answer = (await ws.messages(chat.id))[-1]
        assert answer.stats is not None and stored.context.used == answer.stats.context_used
        assert stored.context.limit == 16384 and answer.thinking == "One plus one."
        text = await ws.chat_markdown(chat.id)
        assert 'engine: "lab"' in text
        path = tmp_path / "lab.md"
        path.write_text(text, encoding="utf-8")
        await ws.delete_chat_permanently(chat.id)
        imported = await ws.import_files([path])
        assert [c.engine for c in imported] == ["lab"]
        assert [m.thinking for m in await ws.messages(imported[0].id)][-1] == "One plus one."

    with_workspace(work)


def test_models_tests_presets_and_removal(secret_service: str, openai_double: OpenAIDouble) -> None:
    async def work(ws: Workspace) -> None:
        ws.add_engine("lab", openai_double.url)
        assert [p.name for p in ws.engine_profiles()] == ["ollama", "lab"]
        phi = await ws.engine_models("lab")
        assert [m.id for m in phi] == [
            "microsoft/phi-4",
            "microsoft/Phi-4-mini-instruct",
            "microsoft/Phi-4-reasoning-plus",
        ]
        assert len(await ws.engine_models("lab", all_models=True)) == 5
        check = await ws.test_engine("lab")
        assert check.sentence == "Connected: 5 models, 3 of the Phi-4 family"
        assert {p.id for p in ws.engine_presets()} >= {"vllm", "tgi", "llamacpp", "lmstudio"}
        chat = await ws.new_chat(PHI, engine="lab")
        await ws.remove_engine("lab")
        assert keyring.get_password("phidesk", "engine:lab") is None
        turn = ws.send(chat.id, "still there?")
        assert turn.task is not None
        await asyncio.wait([turn.task])
        assert isinstance(turn.refused, TurnRefusedEvent)
        assert "choose another engine" in turn.refused.reason
        with pytest.raises(UsageError, match="default engine"):
            await ws.remove_engine("ollama")

    with_workspace(work)


def test_consent_before_a_key_travels_in_clear(secret_service: str) -> None:
    async def work(ws: Workspace) -> None:
        with pytest.raises(InsecureTokenRefused, match="plain http://"):
            ws.add_engine("far", "http://gpu-box.example:8000", api_key="sk-1")
        assert [p.name for p in ws.engine_profiles()] == ["ollama"]
        profile = ws.add_engine(
            "far", "http://gpu-box.example:8000", api_key="sk-1", confirm_insecure=True
        )
        assert profile.url == "http://gpu-box.example:8000/v1" and profile.insecure_confirmed
        ws.add_engine("near", "http://127.0.0.1:8000/v1/", api_key="sk-2")
        remote_ollama = ws.add_engine("box", "http://10.1.2.3:11434/v1", kind="ollama")
        assert remote_ollama.url == "http://10.1.2.3:11434"
        assert [(p.name, p.kind) for p in ws.engine_profiles()] == [
            ("ollama", "ollama"),
            ("box", "ollama"),
            ("far", "openai"),
            ("near", "openai"),
        ]
        with pytest.raises(UsageError, match="exists already"):
            ws.add_engine("near", "http://127.0.0.1:8000")

    with_workspace(work)


def test_url_normalisation() -> None:
    assert normalize_url("http://h:8000", "openai") == "http://h:8000/v1"
    assert normalize_url("http://h:8000/v1/", "openai") == "http://h:8000/v1"
    assert normalize_url("https://openrouter.ai/api/v1", "openai") == "https://openrouter.ai/api/v1"
    assert normalize_url("h:11434/v1", "ollama") == "http://h:11434"
    with pytest.raises(UsageError):
        normalize_url("ftp://h", "openai")
    with pytest.raises(UsageError):
        normalize_url("https://user:pw@h/v1", "openai")


def test_remote_ollama_engines_windows_and_moving_a_chat(
    secret_service: str, openai_double: OpenAIDouble, ollama_double: OllamaDouble
) -> None:
    async def work(ws: Workspace) -> None:
        ws.add_engine("box", ollama_double.url, kind="ollama")
        ws.add_engine("lab", openai_double.url)
        phi = await ws.engine_models("box")
        assert phi and all(m.phi4 for m in phi)
        assert (await ws.test_engine("box")).phi4 == len(phi)
        chat = await ws.new_chat("phi4-mini", engine="box")
        turn = ws.send(chat.id, "hello box")
        assert turn.task is not None
        await asyncio.wait([turn.task])
        assert turn.finished is not None and turn.finished.state is TurnState.DONE
        answer = (await ws.messages(chat.id))[-1]
        assert answer.provenance is not None and answer.provenance.engine == "box"
        assert await ws.chat_window(chat.id) == 8192
        moved = await ws.set_chat_engine(chat.id, "lab", "mistralai/Mistral-7B-Instruct-v0.3")
        assert (moved.engine, moved.model) == ("lab", "mistralai/Mistral-7B-Instruct-v0.3")
        assert await ws.chat_window(chat.id) is None
        await ws.set_chat_engine(chat.id, "lab", PHI)
        assert await ws.chat_window(chat.id) == 16384
        with pytest.raises(UsageError, match="no engine 'nope'"):
            await ws.set_chat_engine(chat.id, "nope", PHI)
        await ws.remove_engine("box")
        assert [p.name for p in ws.engine_profiles()] == ["ollama", "lab"]
        assert ws.engine_by_name("box") is None

    with_workspace(work)


def test_the_profiles_file_is_shared_and_damage_is_skipped(
    secret_service: str, openai_double: OpenAIDouble
) -> None:
    paths = Paths.resolve().ensure()
    (paths.config / "engines.json").write_text(
        json.dumps(
            {
                "engines": [
                    {"name": "bad name!", "url": "http://x"},
                    {"name": "odd", "kind": "other", "url": "http://x"},
                    {"name": "lab", "url": openai_double.url, "has_key": True},
                ]
            }
        ),
        encoding="utf-8",
    )

    async def work(ws: Workspace) -> None:
        assert [p.name for p in ws.engine_profiles()] == ["ollama", "lab"]
        # The key it says it has is not in the keyring: none is sent, and a refusal says why.
        openai_double.require_key("sk-real")
        with pytest.raises(Unauthorized, match="could not be read from the keyring"):
            await ws.test_engine("lab")
        other = EngineProfiles(ws.paths)  # another process adds an engine
        other.add(EngineProfile("far", "openai", "https://far.example/v1"), api_key="sk-far")
        assert [p.name for p in ws.engine_profiles()] == ["ollama", "lab", "far"]
        (ws.paths.config / "engines.json").write_text("{not json", encoding="utf-8")
        assert [p.name for p in ws.engine_profiles()] == ["ollama"]

    with_workspace(work)

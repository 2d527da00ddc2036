"""The doctor's checks one by one, in process (tests/integration/test_doctor.py drives the command
itself): each database, schema, backup, model, GPU, folder and keyring case gives the status and
the sentence a user needs, and never changes a file."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.backend.client import OllamaClient
from app.backend.hardware import ToolFailed, ToolRunner
from app.backend.models import InstalledModel
from app.config import Paths
from app.store import Database
from app.store.migrate import head_revision, known_revisions
from app.workspace.doctor import Check, Status, check_folders, check_gpu, check_model, run_checks
from tests.ollama_double.server import OllamaDouble

GPU_DATA = Path(__file__).resolve().parent.parent / "data" / "gpu"


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def diagnose(paths: Paths, url: str) -> dict[str, Check]:
    async def run() -> list[Check]:
        async with OllamaClient(url) as client:
            return await run_checks(paths, client, environ={}, platform="linux")

    return {check.name: check for check in asyncio.run(run())}


def database_at(root: Path) -> Paths:
    paths = Paths.resolve(root).ensure()
    with Database.open(paths.database) as db:
        db.create_chat(title="kept", model="phi4-mini:latest")
    return paths


def set_revision(paths: Paths, revision: str) -> None:
    connection = sqlite3.connect(paths.database)
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    connection.close()


def unchanged(paths: Paths, url: str) -> dict[str, Check]:
    """`diagnose`, asserting that no file under the data folder changed."""
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in paths.data.rglob("*")}
    checks = diagnose(paths, url)
    assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in paths.data.rglob("*")} == before
    return checks


def test_an_old_ollama_is_a_warning_and_a_problem_for_the_model_it_cannot_load(
    tmp_path: Path,
) -> None:
    paths = database_at(tmp_path)
    with OllamaDouble(version="0.5.0") as old:
        checks = unchanged(paths, old.url)
    assert checks["Ollama"].status is Status.WARNING
    assert checks["Ollama"].advice == "update Ollama to 0.10.0 or newer"
    mini = checks["Model phi4-mini:latest"]
    assert mini.status is Status.PROBLEM
    assert mini.detail == "Phi-4-mini 3.8B needs Ollama 0.5.13 or newer, but the server runs 0.5.0"
    assert checks["Model phi4:latest"].status is Status.OK


def test_an_ollama_new_enough_for_phi4_mini_but_older_than_0_10_warns_only(
    tmp_path: Path,
) -> None:
    with OllamaDouble(version="0.6.8") as server:
        checks = diagnose(Paths.resolve(tmp_path), server.url)
    assert checks["Ollama"].status is Status.WARNING
    assert checks["Model phi4-mini:latest"].status is Status.OK


def test_a_server_with_no_models_says_how_to_get_one(tmp_path: Path) -> None:
    with OllamaDouble(installed=[]) as server:
        checks = diagnose(Paths.resolve(tmp_path), server.url)
    assert checks["Models"] == Check(
        "Models",
        Status.WARNING,
        "no model is installed",
        "download one with: phidesk pull phi4-mini",
    )


def test_an_unreachable_server_leaves_the_models_unknown(tmp_path: Path) -> None:
    url = dead_url()
    checks = diagnose(Paths.resolve(tmp_path), url)
    assert checks["Ollama"].status is Status.PROBLEM
    assert checks["Ollama"].detail == f"Ollama is not answering at {url}"
    # No Ollama on this computer's PATH here: the advice is to set one up, not to start it.
    assert checks["Ollama"].advice.startswith("no Ollama was found on this computer")
    assert "ollama serve" not in checks["Ollama"].advice
    assert checks["Models"].status is Status.UNKNOWN


def installed(name: str) -> InstalledModel:
    return InstalledModel(name, 1, "sha256:0", None, "phi3", "3.8B", "Q4_K_M")


@pytest.mark.parametrize(
    ("capabilities", "status", "detail"),
    [
        (("completion", "tools"), Status.OK, "offers completion, tools"),
        (("embedding",), Status.WARNING, "it cannot chat (it offers embedding)"),
        ((), Status.OK, "Ollama 0.6.0 does not report what models can do"),
        (None, Status.UNKNOWN, "the server did not describe it (/api/show failed)"),
    ],
)
def test_a_models_capabilities(
    capabilities: tuple[str, ...] | None, status: Status, detail: str
) -> None:
    check = check_model(installed("phi4-mini:latest"), capabilities, "0.6.0")
    assert (check.name, check.status, check.detail) == ("Model phi4-mini:latest", status, detail)


def test_a_model_name_with_terminal_controls_is_shown_harmlessly() -> None:
    check = check_model(installed("evil\x1b]0;owned\x07:latest"), ("completion",), "0.33.0")
    assert "\x1b" not in check.line() and "\x07" not in check.line()


def test_a_damaged_database_without_backups_says_to_move_it_aside(tmp_path: Path) -> None:
    paths = Paths.resolve(tmp_path).ensure()
    paths.database.write_bytes(b"\x00garbage" * 512)
    checks = unchanged(paths, dead_url())
    assert checks["Database"].status is Status.PROBLEM
    assert checks["Database"].detail == f"{paths.database} is damaged (file is not a database)"
    assert "(it has no backup)" in checks["Database"].advice
    assert checks["Schema"].status is Status.UNKNOWN
    assert checks["Backups"].detail.startswith("none yet")


def test_an_empty_file_is_a_database_not_set_up_yet(tmp_path: Path) -> None:
    paths = Paths.resolve(tmp_path).ensure()
    paths.database.write_bytes(b"")
    checks = unchanged(paths, dead_url())
    assert (checks["Database"].status, checks["Schema"].status) == (Status.OK, Status.OK)
    assert checks["Database"].detail.startswith("none yet")


def test_another_programs_database_is_not_ours(tmp_path: Path) -> None:
    paths = Paths.resolve(tmp_path).ensure()
    other = sqlite3.connect(paths.database)
    other.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    other.close()
    checks = unchanged(paths, dead_url())
    assert checks["Database"].status is Status.OK
    assert checks["Schema"] == Check(
        "Schema",
        Status.PROBLEM,
        f"{paths.database} holds another program's tables",
        "move it aside, or choose another --data-dir",
    )


def test_a_database_of_a_newer_phidesk_is_a_problem(tmp_path: Path) -> None:
    paths = database_at(tmp_path)
    set_revision(paths, "9999")
    checks = unchanged(paths, dead_url())
    assert checks["Schema"].status is Status.PROBLEM
    assert checks["Schema"].detail == "revision 9999 was written by a newer PhiDesk"


def test_an_older_schema_is_upgraded_when_phidesk_next_opens_it(tmp_path: Path) -> None:
    paths = database_at(tmp_path)
    oldest = known_revisions()[0]
    set_revision(paths, oldest)
    checks = unchanged(paths, dead_url())
    assert checks["Schema"] == Check(
        "Schema",
        Status.OK,
        f"revision {oldest}: PhiDesk upgrades it to {head_revision()} (after a backup) "
        "when it opens it",
    )


def test_a_damaged_newest_backup_is_a_warning(tmp_path: Path) -> None:
    paths = database_at(tmp_path)
    broken = paths.data / "phidesk.backup-0003-20260101T000000000000Z.sqlite3"
    broken.write_bytes(b"not sqlite" * 100)
    checks = unchanged(paths, dead_url())
    assert checks["Backups"].status is Status.WARNING
    assert checks["Backups"].detail == (
        f"1 beside the database; the newest, {broken.name}, is damaged (file is not a database)"
    )
    assert checks["Database"].status is Status.OK


def test_a_folder_that_does_not_exist_yet_is_fine_when_it_can_be_created(tmp_path: Path) -> None:
    assert check_folders(Paths.resolve(tmp_path / "new" / "data")).status is Status.OK
    blocker = tmp_path / "file"
    blocker.write_text("")
    check = check_folders(Paths.resolve(blocker / "data"))
    assert check.status is Status.PROBLEM
    assert (
        check.detail == f"{blocker / 'data'} cannot be created: {blocker} is a file, not a folder"
    )


def runner(outputs: dict[str, str]) -> ToolRunner:
    def run(argv: Sequence[str], timeout: float) -> str:
        if argv[0] not in outputs:
            raise ToolFailed(f"{argv[0]} is not installed")
        return outputs[argv[0]]

    return run


def test_the_gpu_and_its_free_memory(tmp_path: Path) -> None:
    smi = (GPU_DATA / "nvidia-smi-rtx4060.csv").read_text()
    check = check_gpu("http://127.0.0.1:11434", runner({"nvidia-smi": smi}))
    assert check == Check(
        "GPU", Status.OK, "NVIDIA GeForce RTX 4060 (cuda): 7.6 GiB free of 8.0 GiB"
    )
    busy = "0, NVIDIA GeForce RTX 4060, 8188, 300\n"
    check = check_gpu("http://127.0.0.1:11434", runner({"nvidia-smi": busy}))
    assert check.status is Status.WARNING
    assert check.advice == "close programs that use the GPU, or models will run on the CPU"
    check = check_gpu("http://127.0.0.1:11434", runner({}))
    assert check.status is Status.WARNING
    assert check.detail == (
        "none found (nvidia-smi is not installed; rocm-smi is not installed): models run on the CPU"
    )
    remote = check_gpu("http://gpu-box:11434")
    assert remote.status is Status.UNKNOWN
    assert "another machine (http://gpu-box:11434)" in remote.detail


def test_without_a_keyring_saved_tokens_are_named_as_unreadable(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # what keyring chooses where there is no keyring
    request.addfinalizer(lambda: keyring.set_keyring(previous))
    paths = Paths.resolve(tmp_path).ensure()
    hosts = {
        "hosts": [{"id": "box", "name": "Box", "url": "http://10.0.0.2:11434", "has_token": True}]
    }
    (paths.config / "hosts.json").write_text(json.dumps(hosts))
    checks = unchanged(paths, dead_url())
    assert checks["Keyring"].status is Status.WARNING
    assert checks["Keyring"].detail.endswith("; the saved tokens of 1 server(s) cannot be read")
    assert "Secret Service" in checks["Keyring"].advice


@pytest.mark.keyring_real
def test_a_real_secret_service_is_where_tokens_go(tmp_path: Path, secret_service: str) -> None:
    checks = diagnose(Paths.resolve(tmp_path), dead_url())
    assert checks["Keyring"].status is Status.OK
    assert checks["Keyring"].detail.startswith("tokens go to keyring.backends.SecretService")

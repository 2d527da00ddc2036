"""Start-up loads only what the first window needs: `openai` only when an OpenAI-compatible
engine is used, `alembic` only when a database needs migrating, `ollama` and `httpx` only when
the first call to a backend is made. Each check runs in a fresh interpreter, so what it reports
is what a real start imports."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from app.store import Database
from app.store.migrate import alembic_config, head_revision, known_revisions
from tests.integration.test_store_migrations import build_at

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


_OPEN = (
    "import sys\n"
    "from pathlib import Path\n"
    "from app.store import Database\n"
    "db = Database.open(Path(sys.argv[1]))\n"
    "db.close()\n"
    "print('alembic' in sys.modules)\n"
)


def test_importing_the_workspace_does_not_import_openai() -> None:
    code = "import sys\nimport app.workspace\nprint('openai' in sys.modules)"
    assert _run(code) == "False"


def test_importing_the_engine_modules_does_not_import_openai() -> None:
    code = (
        "import sys\n"
        "from app.backend.engines.ollama_engine import OllamaEngine\n"
        "import app.backend.engines.openai_engine\n"
        "import app.workspace.engines\n"
        "import app.workspace.engine_profiles\n"
        "print('openai' in sys.modules)\n"
    )
    assert _run(code) == "False"


_NETWORK = (
    "import sys\n"
    "import {module}\n"
    "print(sorted(name for name in ('ollama', 'httpx') if name in sys.modules))\n"
)


def test_importing_the_workspace_does_not_import_ollama_or_httpx() -> None:
    assert _run(_NETWORK.format(module="app.workspace")) == "[]"


def test_importing_the_gui_start_does_not_import_ollama_or_httpx() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    code = _NETWORK.format(module="app.gui.application")
    assert _run(code, env=env) == "[]"
    assert _run(_NETWORK.format(module="app.gui.main_window"), env=env) == "[]"


def test_the_entry_point_does_not_import_ollama_or_httpx() -> None:
    # `python -m app` reads its arguments with the command line's parser before the window.
    assert _run(_NETWORK.format(module="app.main")) == "[]"
    assert _run(_NETWORK.format(module="app.cli")) == "[]"


def test_building_a_client_does_not_import_ollama_or_httpx() -> None:
    # The window's start builds the client before it shows; the first call comes after.
    code = (
        "import sys\n"
        "from app.backend.client import OllamaClient\n"
        "client = OllamaClient('http://127.0.0.1:9', token='secret')\n"
        "print(sorted(name for name in ('ollama', 'httpx') if name in sys.modules))\n"
    )
    assert _run(code) == "[]"


def test_a_client_still_loads_them_for_its_first_call() -> None:
    code = (
        "import asyncio, sys\n"
        "from app.backend.client import OllamaClient\n"
        "from app.backend.errors import ServerUnreachable\n"
        "async def main() -> None:\n"
        "    async with OllamaClient('http://127.0.0.1:9', connect_timeout=2) as client:\n"
        "        try:\n"
        "            await client.list_models()\n"
        "        except ServerUnreachable:\n"
        "            print('unreachable')\n"
        "asyncio.run(main())\n"
        "print(sorted(name for name in ('ollama', 'httpx') if name in sys.modules))\n"
    )
    assert _run(code).splitlines() == ["unreachable", "['httpx', 'ollama']"]


def test_an_up_to_date_database_opens_without_alembic(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    Database.open(path).close()
    assert _run(_OPEN, str(path)) == "False"


def test_an_older_database_is_still_backed_up_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    older = known_revisions()[-2]
    build_at(path, older)
    assert _run(_OPEN, str(path)) == "True"
    backups = list(tmp_path.glob(f"chats.backup-{older}-*.sqlite3"))
    assert len(backups) == 1
    with Database.open(path, readonly=True) as db:
        assert db.backup_path is None
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    finally:
        connection.close()
    assert rows == [(head_revision(),)]


def test_the_cheap_head_and_history_equal_alembics() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert head_revision() == scripts.get_current_head()
    alembic_order = [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert known_revisions() == alembic_order

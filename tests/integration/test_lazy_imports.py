"""Start-up loads only what the first window needs: `openai` only when an OpenAI-compatible
engine is used, `alembic` only when a database needs migrating. Each check runs in a fresh
interpreter, so what it reports is what a real start imports."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from app.store import Database
from app.store.migrate import alembic_config, head_revision, known_revisions
from tests.integration.test_store_migrations import build_at

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
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

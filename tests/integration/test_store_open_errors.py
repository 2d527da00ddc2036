"""What opening the database says when it cannot: a locked file is busy (not damaged), a full
disk is full (not damaged), and backups are suggested only when there are some. The disk is
filled for real, in a small tmpfs mounted in a private namespace where the system allows it,
and else by a file-size limit (RLIMIT_FSIZE: EFBIG instead of ENOSPC, treated alike)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.store import Database, DatabaseCorrupt, StoreError
from app.store.migrate import backup
from tests.integration.test_store_locking import lock_held

REPO = Path(__file__).resolve().parents[2]

ADVICE_FOR_DAMAGE = ("usable", "move it aside", "backup")


@pytest.mark.parametrize(
    ("mode", "readonly"),
    [("exclusive-mode", True), ("exclusive-mode", False), ("immediate", False)],
    ids=["readers-shut-out-read-only", "readers-shut-out", "writers-shut-out"],
)
def test_a_locked_database_at_start_is_busy_not_damaged(
    tmp_path: Path, mode: str, readonly: bool
) -> None:
    path = tmp_path / "phidesk.sqlite3"
    with Database.open(path) as db:
        chat = db.create_chat(title="healthy")
        db.add_message(chat.id, "assistant", "streaming when it crashed", status="streaming")
    notes: list[str] = []
    with lock_held(path, mode), pytest.raises(StoreError) as caught:
        Database.open(path, readonly=readonly, on_wait=notes.append, busy_wait=3)
    message = str(caught.value)
    assert not isinstance(caught.value, DatabaseCorrupt)
    assert "busy" in message and str(path) in message and "\n" not in message
    assert not [word for word in ADVICE_FOR_DAMAGE if word in message]
    assert len(notes) == 1
    with Database.open(path) as db:  # and nothing was harmed
        assert [c.title for c in db.list_chats()] == ["healthy"]


def test_a_damaged_file_suggests_backups_only_when_there_are_some(tmp_path: Path) -> None:
    path = tmp_path / "phidesk.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(DatabaseCorrupt) as caught:
        Database.open(path)
    assert "move it aside" in str(caught.value) and "backup" not in str(caught.value)

    other = tmp_path / "other.sqlite3"
    Database.open(other).close()
    made = backup(other, "0003")
    kept = made.rename(tmp_path / made.name.replace("other", "phidesk"))
    with pytest.raises(DatabaseCorrupt) as caught:
        Database.open(path)
    assert kept.name in str(caught.value)


FULL = textwrap.dedent(
    """
    import hashlib, os, resource, sys
    from pathlib import Path

    from alembic import command
    from app.store import Database
    from app.store.engine import create_engine
    from app.store.migrate import alembic_config

    path, scenario, how = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    if scenario == "existing":  # at the newest schema, with an answer left streaming
        with Database.open(path) as db:
            chat = db.create_chat(title="precious")
            db.add_message(chat.id, "assistant", "x" * 20_000, status="streaming")
    elif scenario == "old":  # needs a backup and an upgrade
        engine = create_engine(path)
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0001")
        engine.dispose()
    before = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""
    if how == "tmpfs":
        try:  # around the close too: it flushes what the full disk refused, and fails again
            with open(path.with_name("filler"), "wb") as filler:
                while True:
                    filler.write(b"\\0" * 4096)
                    filler.flush()
        except OSError:
            pass
    else:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))
    try:
        Database.open(path).close()
        print("opened")
    except Exception as exc:
        print(type(exc).__name__ + ": " + str(exc))
    after = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""
    print("untouched" if after == before or not before else "changed")
    """
)


def _tmpfs_command(folder: Path) -> list[str] | None:
    """A command prefix that runs its rest with a 1 MiB tmpfs mounted on `folder`, or None."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return None
    mount = f'mount -t tmpfs -o size=1m tmpfs \'{folder}\' && exec "$0" "$@"'
    command = [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", mount]
    try:
        probe = subprocess.run([*command, "true"], capture_output=True, timeout=30, check=False)
    except OSError:
        return None
    return command if probe.returncode == 0 else None


@pytest.mark.parametrize("scenario", ["existing", "old", "new"])
@pytest.mark.parametrize("how", ["tmpfs", "rlimit"])
def test_a_full_disk_at_start_is_full_not_damaged(tmp_path: Path, scenario: str, how: str) -> None:
    folder = tmp_path / "disk"
    folder.mkdir()
    script = tmp_path / "full.py"
    script.write_text(FULL)
    prefix: list[str] = []
    if how == "tmpfs":
        found = _tmpfs_command(folder)
        if found is None:
            pytest.skip("cannot mount a tmpfs here (the rlimit variant still runs)")
        prefix = found
    elif sys.platform == "win32":
        pytest.skip("needs RLIMIT_FSIZE")
    path = folder / "phidesk.sqlite3"
    done = subprocess.run(
        [*prefix, sys.executable, str(script), str(path), scenario, how],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *lines, untouched = done.stdout.strip().splitlines()
    said = "\n".join(lines)
    assert untouched == "untouched"
    assert len(lines) == 1, said
    kind, _, message = said.partition(": ")
    assert kind in ("StoreError", "MigrationFailed"), said
    assert "full" in message and str(path) in message, said
    assert not [word for word in ADVICE_FOR_DAMAGE if word in message], said
    if how == "rlimit":  # the tmpfs is gone with its namespace
        assert not list(folder.glob("*.backup-*")), "a partial backup was left behind"

"""`phidesk export` on a full disk, as a real subprocess: every file is written whole or not at
all, and the one sentence says what was written and what was not.

The full disk is a file size limit (RLIMIT_FSIZE) on the child: a write past it fails with
EFBIG, which PhiDesk treats as ENOSPC. SIGXFSZ is ignored in the child, as Python does, so the
write fails instead of killing the process."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from app.config import Paths
from app.store import Database

KiB = 1 << 10
FILE_SIZE_CAP = 256 * KiB


def phidesk(
    data: Path, *args: str, file_size_cap: int | None = None
) -> subprocess.CompletedProcess[str]:
    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if file_size_cap is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_cap, file_size_cap))

    return subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=cap,
    )


def seed(data: Path) -> list[int]:
    """Chats A, B, C and D; only C's export is bigger than the file size cap."""
    with Database.open(Paths.resolve(data).ensure().database) as db:
        ids = []
        for title in "ABCD":
            chat = db.create_chat(title=title, model="phi4-mini")
            db.add_message(chat.id, "user", f"Tell me about {title}.")
            # C's answer does not pack small either, so that a .zip of it is too big as well.
            answer = "\n".join(os.urandom(50).hex() for _ in range(FILE_SIZE_CAP // 50))
            db.add_message(chat.id, "assistant", answer if title == "C" else "ok")
            ids.append(chat.id)
    return ids


def one_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("phidesk: error: ")
    assert "unexpected error" not in lines[0] and "Traceback" not in done.stderr
    return lines[0]


def test_a_folder_export_on_a_full_disk_leaves_only_whole_files_and_says_which(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    ids = seed(data)
    folder = tmp_path / "exports"
    done = phidesk(data, "export", *map(str, ids), "-o", str(folder), file_size_cap=FILE_SIZE_CAP)
    line = one_error(done)
    assert "disk is full" in line
    assert "2 of 4 chats were written (A.md, B.md)" in line
    assert "2 were not (C.md, D.md)" in line
    assert sorted(p.name for p in folder.iterdir()) == ["A.md", "B.md"]  # nothing partial
    for name, chat_id in (("A.md", ids[0]), ("B.md", ids[1])):
        whole = phidesk(data, "export", str(chat_id))
        assert whole.returncode == 0
        written = (folder / name).read_text()
        assert written.split("exported_at:")[0] == whole.stdout.split("exported_at:")[0]
    again = phidesk(tmp_path / "other", "import", *(str(p) for p in folder.iterdir()))
    assert again.returncode == 0, again.stderr


def test_a_file_or_zip_export_on_a_full_disk_writes_nothing_and_keeps_what_was_there(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    ids = seed(data)
    for name in ("c.md", "all.zip"):
        target = tmp_path / name
        target.write_bytes(b"an older export")
        chosen = [str(ids[2])] if name == "c.md" else ["--all"]
        done = phidesk(data, "export", *chosen, "-o", str(target), file_size_cap=FILE_SIZE_CAP)
        line = one_error(done)
        assert "disk is full" in line and "nothing was written" in line
        assert target.read_bytes() == b"an older export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.zip", "c.md", "data"]

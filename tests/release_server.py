"""A stand-in for GitHub's releases API and its download host, over a real socket.

`ReleaseServer()` (a context manager) serves on 127.0.0.1:
- `/releases/latest`: the release set with `publish(tag, {name: bytes})` as GitHub shapes it
  (`tag_name`, `assets[].name`, `.browser_download_url`, `.size`, optionally `.digest`), with a
  `sha256sum.txt` asset (`HASH  ./NAME` lines) unless `checksums=False`;
- `/download/<tag>/<name>`: the bytes, honouring `Range: bytes=N-` (206, `Content-Range`);
  `delay` seconds between 64 KiB chunks slows a download down;
- `fail_next(path, status, headers)` answers the next request to `path` with that status.

`requests` records (path, Range header) of every request. Helpers below build `.tgz`,
`.tar.zst` and `.zip` archives and the fake `ollama` program they hold.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import sys
import tarfile
import threading
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

import zstandard

REPO = Path(__file__).resolve().parent.parent
CHUNK = 64 * 1024


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"message": "error"}'


class ReleaseServer:
    def __init__(self) -> None:
        self.tag = "v0.0.0"
        self.files: dict[str, bytes] = {}
        self.digests = False
        self.checksums = True
        self.wrong_checksum_for: set[str] = set()
        self.delay = 0.0
        self.requests: list[tuple[str, str | None]] = []
        self.faults: dict[str, Fault] = {}
        self.sent_bytes = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def releases_url(self) -> str:
        return f"{self.url}/releases/latest"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._http.shutdown()
        self._http.server_close()

    def publish(
        self, tag: str, files: Mapping[str, bytes], *, digests: bool = False, checksums: bool = True
    ) -> None:
        with self._lock:
            self.tag, self.files = tag, dict(files)
            self.digests, self.checksums = digests, checksums

    def fail_next(self, path: str, status: int, headers: Mapping[str, str] | None = None) -> None:
        self.faults[path] = Fault(status, dict(headers or {}))

    def downloads_of(self, name: str) -> list[str | None]:
        """The Range header of each request for `name` (None: no Range)."""
        return [rng for path, rng in self.requests if path.endswith("/" + name)]

    def release_json(self) -> dict[str, object]:
        assets = []
        for name, data in self.files.items():
            asset: dict[str, object] = {
                "name": name,
                "size": len(data),
                "browser_download_url": f"{self.url}/download/{self.tag}/{name}",
            }
            if self.digests:
                asset["digest"] = "sha256:" + self._sha(name, data)
            assets.append(asset)
        if self.checksums and not self.digests:
            lines = "".join(f"{self._sha(n, d)}  ./{n}\n" for n, d in self.files.items())
            self.files["sha256sum.txt"] = lines.encode()
            assets.append(
                {
                    "name": "sha256sum.txt",
                    "size": len(lines),
                    "browser_download_url": f"{self.url}/download/{self.tag}/sha256sum.txt",
                }
            )
        return {"tag_name": self.tag, "name": self.tag, "assets": assets}

    def _sha(self, name: str, data: bytes) -> str:
        if name in self.wrong_checksum_for:
            return hashlib.sha256(data + b"altered").hexdigest()
        return hashlib.sha256(data).hexdigest()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        self.requests.append((path, handler.headers.get("Range")))
        fault = self.faults.pop(path, None)
        if fault is not None:
            self._send(handler, fault.status, fault.body, fault.headers)
            return
        if path == "/releases/latest":
            body = json.dumps(self.release_json()).encode()
            self._send(handler, 200, body, {"Content-Type": "application/json"})
            return
        prefix = f"/download/{self.tag}/"
        name = path[len(prefix) :] if path.startswith(prefix) else ""
        data = self.files.get(name)
        if data is None:
            self._send(handler, 404, b"Not Found", {})
            return
        start = 0
        status = 200
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-"):
            start = int(wanted[6:-1])
            if start >= len(data):
                self._send(handler, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data) - start))
        handler.end_headers()
        try:
            for offset in range(start, len(data), CHUNK):
                handler.wfile.write(data[offset : offset + CHUNK])
                handler.wfile.flush()
                with self._lock:
                    self.sent_bytes += min(CHUNK, len(data) - offset)
                if self.delay:
                    time.sleep(self.delay)
        except (BrokenPipeError, ConnectionResetError):
            return

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: Mapping[str, str]
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


# --- archives --------------------------------------------------------------------------------


def fake_ollama_program(*, fail: str | None = None, snapshot: str | None = None) -> bytes:
    """An `ollama` shell script that runs the test double's fake `ollama` (this checkout, this
    interpreter). `fail` makes `serve` fail at once; `snapshot` names a file where `serve`
    first writes the pointer file and the list of installed copies it finds beside itself."""
    lines = ["#!/bin/sh"]
    if snapshot is not None:
        lines += [
            'here=$(cd "$(dirname "$0")" && pwd)',
            'if [ "$1" = serve ]; then',
            f'  {{ cat "$here/../../../current.json"; echo; ls "$here/../.."; }} '
            f"> {shlex.quote(snapshot)} 2>&1",
            "fi",
        ]
    if fail is not None:
        lines.append(f"export PHIDESK_FAKE_OLLAMA_FAIL={shlex.quote(fail)}")
    lines.append(
        f'PYTHONPATH={shlex.quote(str(REPO))}"${{PYTHONPATH:+:$PYTHONPATH}}" '
        f'exec {shlex.quote(sys.executable)} -m tests.ollama_double.fake_ollama "$@"'
    )
    return ("\n".join(lines) + "\n").encode()


Entry = bytes | tuple[str, str]
"""A file's bytes, or ("symlink", target) / ("hardlink", member)."""


def ollama_tree(program: bytes | None = None, *, filler: int = 200_000) -> dict[str, Entry]:
    """What a Linux Ollama archive holds: `bin/ollama` and libraries under `lib/ollama`."""
    return {
        "bin/ollama": program if program is not None else fake_ollama_program(),
        "lib/ollama/libggml-base.so": bytes(range(256)) * (filler // 256),
        "lib/ollama/libggml-cpu.so.1": b"\x7fELF fake library\n",
        "lib/ollama/libggml-cpu.so": ("symlink", "libggml-cpu.so.1"),
    }


def _program(name: str) -> bool:
    return name.rsplit("/", 1)[-1] in ("ollama", "ollama.exe")


def make_tar(files: Mapping[str, Entry]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, entry in files.items():
            info = tarfile.TarInfo(name)
            if isinstance(entry, tuple):
                kind, target = entry
                info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
                info.linkname = target
                tar.addfile(info)
                continue
            info.size = len(entry)
            info.mode = 0o755 if _program(name) else 0o644
            tar.addfile(info, io.BytesIO(entry))
    return out.getvalue()


def make_tgz(files: Mapping[str, Entry]) -> bytes:
    import gzip

    return gzip.compress(make_tar(files), mtime=0)


def make_tar_zst(files: Mapping[str, Entry]) -> bytes:
    return zstandard.ZstdCompressor().compress(make_tar(files))


def make_zip(files: Mapping[str, Entry]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, entry in files.items():
            info = zipfile.ZipInfo(name)
            if isinstance(entry, tuple):
                info.external_attr = (0o120777) << 16
                bundle.writestr(info, entry[1])
                continue
            info.external_attr = (0o100755 if _program(name) else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(info, entry)
    return out.getvalue()

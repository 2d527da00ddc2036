"""How the model manager words sizes, speeds, times and errors (no Qt, so it is easy to test)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.backend.events import PullProgress
from app.backend.hardware import Gpu
from app.backend.memory import Estimate, Fit

GB = 1000**3
MB = 1000**2
GIB = 1024**3
MIB = 1024**2

FIT_TEXT = {Fit.GPU: "fits on GPU", Fit.PARTIAL: "partial offload", Fit.CPU: "CPU only (slow)"}


def download_size(size: int | None, approximate: bool = False) -> str:
    """Download sizes as Ollama and Hugging Face print them: decimal GB / MB."""
    if size is None or size < 0:
        return "size unknown"
    if size == 0:
        return "0 B"
    prefix = "≈ " if approximate else ""
    if size >= GB:
        return f"{prefix}{size / GB:.1f} GB"
    if size >= MB:
        return f"{prefix}{size / MB:.0f} MB"
    return f"{prefix}{size / 1000:.0f} kB"


def memory_size(size: int | float) -> str:
    """Memory in binary units, as GPUs report it."""
    if size >= GIB:
        return f"{size / GIB:.1f} GiB"
    return f"{size / MIB:.0f} MiB"


def speed_text(bytes_per_second: float | None) -> str:
    if bytes_per_second is None:
        return ""
    if bytes_per_second >= GB:
        return f"{bytes_per_second / GB:.2f} GB/s"
    if bytes_per_second >= MB:
        return f"{bytes_per_second / MB:.1f} MB/s"
    return f"{bytes_per_second / 1000:.0f} kB/s"


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s left"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s left"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min left"


def progress_text(progress: PullProgress) -> str:
    """ "1.2 GB of 9.1 GB · 45.3 MB/s · 2 min 10 s left", or the status while sizes are unknown."""
    if not progress.total:
        return progress.status.capitalize() or "Starting…"
    parts = [f"{download_size(progress.completed)} of {download_size(progress.total)}"]
    speed = speed_text(progress.bytes_per_second)
    if speed:
        parts.append(speed)
    eta = eta_text(progress.eta_seconds)
    if eta and progress.completed < progress.total:
        parts.append(eta)
    return " · ".join(parts)


def context_text(tokens: int) -> str:
    """16384 → "16K", 131072 → "128K", 5000 → "5,000"."""
    if tokens >= 1024 and tokens % 1024 == 0:
        return f"{tokens // 1024}K"
    return f"{tokens:,}"


def estimate_text(result: Estimate) -> str:
    """ "≈ 10.4 GiB at 4,096 tokens (KV cache 800 MiB)"."""
    return (
        f"needs ≈ {memory_size(result.total_bytes)} at {result.num_ctx:,} tokens "
        f"(KV cache {memory_size(result.kv_cache_bytes)})"
    )


def badge_text(result: Estimate | None, gpus_known: bool) -> str:
    if result is None:
        return "size unknown"
    if not gpus_known:
        return "checking GPU…"
    return result.verdict


def gpu_summary(gpus: list[Gpu] | tuple[Gpu, ...] | None) -> str:
    if gpus is None:
        return "Looking for GPUs…"
    if not gpus:
        return "No GPU found: models run on the CPU (slow)"
    parts = [
        f"{gpu.name} ({memory_size(gpu.free_bytes)} free of {memory_size(gpu.total_bytes)})"
        for gpu in gpus
    ]
    return "GPU: " + "; ".join(parts)


def expires_text(expires_at: datetime | None, forever: bool, now: datetime | None = None) -> str:
    if forever:
        return "kept loaded"
    if expires_at is None:
        return "unknown"
    left = (expires_at - (now or datetime.now(UTC))).total_seconds()
    if left <= 0:
        return "unloading now"
    whole = round(left)
    if whole < 60:
        return f"in {whole} s"
    if whole < 3600:
        return f"in {whole // 60} min"
    return f"in {whole // 3600} h {whole % 3600 // 60:02d} min"


def sentence(message: str) -> str:
    """An error message as a sentence: capital first letter, full stop at the end."""
    text = " ".join(message.split())
    if not text:
        return "Something went wrong; see the log file for details."
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."

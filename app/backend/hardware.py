"""Which GPUs this machine has and how much memory they offer a model.

Each vendor's tool is optional: NVIDIA through `nvidia-smi`, AMD through `rocm-smi`, Apple Silicon
through `sysctl hw.memsize` (plus `system_profiler` for the chip's name). A tool that is missing,
fails, hangs past its timeout or prints something unexpected contributes no GPU and a one-line
problem note; detection never raises. With no GPU found the machine is "CPU only".

Parsing is kept apart from running the tools so recorded outputs can be fed to the parsers.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

MIB = 1024 * 1024
GIB = 1024 * MIB

TOOL_TIMEOUT_S = 5.0

NVIDIA_SMI_ARGS = (
    "--query-gpu=index,name,memory.total,memory.free",
    "--format=csv,noheader,nounits",
)
ROCM_SMI_ARGS = ("--showmeminfo", "vram", "--showproductname", "--json")
SYSTEM_PROFILER_ARGS = ("SPDisplaysDataType", "-json")


class GpuVendor(StrEnum):
    NVIDIA = "nvidia"
    AMD = "amd"
    APPLE = "apple"


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU Ollama can place layers on.

    `free_bytes` is what is free now (for Apple, the share of unified memory the GPU may use).
    """

    index: int
    name: str
    vendor: GpuVendor
    total_bytes: int
    free_bytes: int
    unified_memory: bool = False

    @property
    def backend(self) -> str:
        """The compute library Ollama uses on it: cuda, rocm or metal."""
        return {GpuVendor.NVIDIA: "cuda", GpuVendor.AMD: "rocm", GpuVendor.APPLE: "metal"}[
            self.vendor
        ]


@dataclass(frozen=True, slots=True)
class GpuProbe:
    """What detection found, and why a tool contributed nothing (for the diagnostics view)."""

    gpus: tuple[Gpu, ...]
    problems: tuple[str, ...] = field(default=())

    @property
    def cpu_only(self) -> bool:
        return not self.gpus


class ToolFailed(Exception):
    """A hardware tool could not be run or gave no usable answer (caught inside this module)."""


ToolRunner = Callable[[Sequence[str], float], str]


def run_tool(argv: Sequence[str], timeout: float = TOOL_TIMEOUT_S) -> str:
    """Run a tool found on PATH and return its standard output, or raise `ToolFailed`."""
    executable = shutil.which(argv[0])
    if executable is None:
        raise ToolFailed(f"{argv[0]} is not installed")
    try:
        completed = subprocess.run(
            [executable, *argv[1:]],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolFailed(f"{argv[0]} did not answer within {timeout:g} s") from exc
    except OSError as exc:
        raise ToolFailed(f"{argv[0]} could not be started: {exc.strerror or exc}") from exc
    if completed.returncode != 0:
        raise ToolFailed(f"{argv[0]} exited with status {completed.returncode}")
    return completed.stdout.decode("utf-8", errors="replace")


# --- parsers -------------------------------------------------------------------------------------


def _int_or_none(text: str) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        return None
    return int(float(text))


def parse_nvidia_smi(output: str) -> list[Gpu]:
    """Parse `nvidia-smi --query-gpu=index,name,memory.total,memory.free --format=csv,noheader,
    nounits`: one line per GPU, fields separated by ", ", memory in MiB.

    Lines whose memory is not reported (`[N/A]`, `[Not Supported]`) or that do not have the
    expected shape are skipped.
    """
    gpus: list[Gpu] = []
    for line in output.splitlines():
        fields = [part.strip() for part in line.split(",")]
        if len(fields) < 4:
            continue
        index = _int_or_none(fields[0])
        total_mib = _int_or_none(fields[-2])
        free_mib = _int_or_none(fields[-1])
        name = ", ".join(fields[1:-2]).strip()
        if index is None or total_mib is None or free_mib is None or total_mib == 0 or not name:
            continue
        gpus.append(
            Gpu(
                index=index,
                name=name,
                vendor=GpuVendor.NVIDIA,
                total_bytes=total_mib * MIB,
                free_bytes=min(free_mib, total_mib) * MIB,
            )
        )
    return gpus


_ROCM_NAME_KEYS = ("card series", "card model", "card sku", "marketing name", "device name")
_ROCM_TOTAL_KEY = "vram total memory (b)"
_ROCM_USED_KEY = "vram total used memory (b)"


def _rocm_gpu(index: int, fields: dict[str, str]) -> Gpu | None:
    total = _int_or_none(fields.get(_ROCM_TOTAL_KEY, ""))
    used = _int_or_none(fields.get(_ROCM_USED_KEY, ""))
    if total is None or used is None or total == 0:
        return None
    name = next((fields[key] for key in _ROCM_NAME_KEYS if fields.get(key)), f"AMD GPU {index}")
    return Gpu(
        index=index,
        name=name,
        vendor=GpuVendor.AMD,
        total_bytes=total,
        free_bytes=max(total - used, 0),
    )


def _parse_rocm_json(output: str) -> list[Gpu] | None:
    start = output.find("{")
    if start < 0:
        return None
    try:
        data = json.loads(output[start:])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return []
    gpus: list[Gpu] = []
    for card, values in data.items():
        match = re.fullmatch(r"card(\d+)", str(card))
        if match is None or not isinstance(values, dict):
            continue
        fields = {str(key).strip().lower(): str(value).strip() for key, value in values.items()}
        gpu = _rocm_gpu(int(match.group(1)), fields)
        if gpu is not None:
            gpus.append(gpu)
    return gpus


def _parse_rocm_text(output: str) -> list[Gpu]:
    per_card: dict[int, dict[str, str]] = {}
    for line in output.splitlines():
        match = re.match(r"\s*GPU\[(\d+)\]\s*:\s*(.+?)\s*:\s*(.*?)\s*$", line)
        if match is None:
            continue
        per_card.setdefault(int(match.group(1)), {})[match.group(2).lower()] = match.group(3)
    gpus = [_rocm_gpu(index, fields) for index, fields in sorted(per_card.items())]
    return [gpu for gpu in gpus if gpu is not None]


def parse_rocm_smi(output: str) -> list[Gpu]:
    """Parse `rocm-smi --showmeminfo vram [--showproductname] --json` (`{"card0": {...}}`, values
    in bytes as strings), or the same command's text form (`GPU[0] : VRAM Total Memory (B): N`).
    Warning lines before the JSON object are tolerated.
    """
    from_json = _parse_rocm_json(output)
    if from_json is not None:
        return from_json
    return _parse_rocm_text(output)


def parse_sysctl_memsize(output: str) -> int | None:
    """Parse `sysctl -n hw.memsize` (bytes) or `sysctl hw.memsize` (`hw.memsize: N`)."""
    text = output.strip()
    if text.startswith("hw.memsize"):
        text = text.partition(":")[2]
    value = _int_or_none(text)
    return value if value else None


def parse_system_profiler_gpu_name(output: str) -> str | None:
    """The Apple GPU's name from `system_profiler SPDisplaysDataType -json`, if there is one."""
    try:
        data = json.loads(output)
    except json.JSONDecodeError:
        return None
    items = data.get("SPDisplaysDataType") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    for item in items:
        if not isinstance(item, dict):
            continue
        vendor = str(item.get("spdisplays_vendor", "")).lower()
        name = str(item.get("sppci_model") or item.get("_name") or "")
        if "apple" in vendor or name.startswith("Apple"):
            return name or None
    return None


def metal_working_set(memsize: int) -> int:
    """How much unified memory macOS lets the GPU use (Metal's recommended working set).

    An approximation: about two thirds of RAM on machines up to 36 GiB, three quarters above.
    """
    return memsize * 2 // 3 if memsize <= 36 * GIB else memsize * 3 // 4


def apple_gpu(memsize: int, name: str | None) -> Gpu:
    return Gpu(
        index=0,
        name=name or "Apple Silicon GPU",
        vendor=GpuVendor.APPLE,
        total_bytes=memsize,
        free_bytes=metal_working_set(memsize),
        unified_memory=True,
    )


# --- detection -----------------------------------------------------------------------------------


def _detect_nvidia(run: ToolRunner, problems: list[str], timeout: float) -> list[Gpu]:
    try:
        output = run(("nvidia-smi", *NVIDIA_SMI_ARGS), timeout)
    except ToolFailed as exc:
        problems.append(str(exc))
        return []
    gpus = parse_nvidia_smi(output)
    if not gpus:
        problems.append("nvidia-smi reported no GPU with readable memory figures")
    return gpus


def _detect_amd(run: ToolRunner, problems: list[str], timeout: float) -> list[Gpu]:
    try:
        output = run(("rocm-smi", *ROCM_SMI_ARGS), timeout)
    except ToolFailed as exc:
        problems.append(str(exc))
        return []
    gpus = parse_rocm_smi(output)
    if not gpus:
        problems.append("rocm-smi reported no GPU with readable memory figures")
    return gpus


def _detect_apple(run: ToolRunner, problems: list[str], timeout: float) -> list[Gpu]:
    try:
        memsize = parse_sysctl_memsize(run(("sysctl", "-n", "hw.memsize"), timeout))
    except ToolFailed as exc:
        problems.append(str(exc))
        return []
    if memsize is None:
        problems.append("sysctl hw.memsize printed something unexpected")
        return []
    try:
        name = parse_system_profiler_gpu_name(
            run(("system_profiler", *SYSTEM_PROFILER_ARGS), timeout * 3)
        )
    except ToolFailed:
        name = None
    return [apple_gpu(memsize, name)]


def probe_gpus(
    run: ToolRunner = run_tool,
    *,
    system: str | None = None,
    machine: str | None = None,
    timeout: float = TOOL_TIMEOUT_S,
) -> GpuProbe:
    """Ask every tool that applies to this OS; never raises."""
    system = system if system is not None else sys.platform
    machine = machine if machine is not None else platform.machine()
    problems: list[str] = []
    gpus: list[Gpu] = []
    detectors: list[Callable[[ToolRunner, list[str], float], list[Gpu]]] = []
    if system == "darwin":
        # Ollama uses Metal on Apple Silicon only; Intel Macs run models on the CPU.
        if machine.lower() in ("arm64", "aarch64"):
            detectors.append(_detect_apple)
        else:
            problems.append("Intel Macs run models on the CPU")
    else:
        detectors += [_detect_nvidia, _detect_amd]
    for detector in detectors:
        try:
            gpus += detector(run, problems, timeout)
        except Exception as exc:  # a runner that breaks its contract must not crash the app
            problems.append(f"GPU detection failed: {exc}")
    return GpuProbe(gpus=tuple(gpus), problems=tuple(problems))


def detect_gpus(run: ToolRunner = run_tool) -> list[Gpu]:
    """The GPUs on this machine; an empty list means CPU only."""
    return list(probe_gpus(run).gpus)

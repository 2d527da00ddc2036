"""GPU detection: parsers fed recorded tool outputs, and detection running real (fake) tools.

The "tools" in the detection tests are real executables on a private PATH that print the recorded
outputs, fail, hang or print garbage, so the whole path (PATH lookup, process, timeout, decoding,
parsing) runs as it would with the vendors' tools.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.backend.hardware import (
    GIB,
    MIB,
    Gpu,
    GpuVendor,
    ToolFailed,
    detect_gpus,
    metal_working_set,
    parse_nvidia_smi,
    parse_rocm_smi,
    parse_sysctl_memsize,
    parse_system_profiler_gpu_name,
    probe_gpus,
    run_tool,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "gpu"


def recorded(name: str) -> str:
    return (DATA / name).read_bytes().decode("utf-8", errors="replace")


# --- parsers -------------------------------------------------------------------------------------


def test_nvidia_single_gpu_in_mib() -> None:
    [gpu] = parse_nvidia_smi(recorded("nvidia-smi-rtx4060.csv"))
    assert gpu == Gpu(
        index=0,
        name="NVIDIA GeForce RTX 4060",
        vendor=GpuVendor.NVIDIA,
        total_bytes=8188 * MIB,
        free_bytes=7805 * MIB,
    )
    assert gpu.backend == "cuda"


def test_nvidia_two_gpus_keep_their_indices() -> None:
    gpus = parse_nvidia_smi(recorded("nvidia-smi-two-gpus.csv"))
    assert [(g.index, g.name, g.free_bytes) for g in gpus] == [
        (0, "NVIDIA GeForce RTX 4090", 23912 * MIB),
        (1, "NVIDIA RTX A4000", 15020 * MIB),
    ]


def test_nvidia_gpus_without_memory_figures_are_left_out() -> None:
    gpus = parse_nvidia_smi(recorded("nvidia-smi-memory-not-reported.csv"))
    assert [(g.index, g.total_bytes, g.free_bytes) for g in gpus] == [(2, 12288 * MIB, 11950 * MIB)]


def test_nvidia_driver_failure_message_gives_no_gpu() -> None:
    assert parse_nvidia_smi(recorded("nvidia-smi-driver-failed.txt")) == []


def test_nvidia_name_with_a_comma_survives() -> None:
    [gpu] = parse_nvidia_smi("3, Quadro RTX 8000, Rev. B, 49152, 40000\n")
    assert (gpu.index, gpu.name, gpu.total_bytes) == (3, "Quadro RTX 8000, Rev. B", 49152 * MIB)


def test_rocm_json_in_bytes_with_product_name() -> None:
    [gpu] = parse_rocm_smi(recorded("rocm-smi-7900xtx.json"))
    assert gpu == Gpu(
        index=0,
        name="Navi31 [Radeon RX 7900 XT/7900 XTX]",
        vendor=GpuVendor.AMD,
        total_bytes=25753026560,
        free_bytes=25753026560 - 1113587712,
    )
    assert gpu.backend == "rocm"


def test_rocm_json_after_a_warning_line_with_two_cards_and_a_system_block() -> None:
    gpus = parse_rocm_smi(recorded("rocm-smi-two-cards-with-warning.txt"))
    assert [(g.index, g.name, g.total_bytes, g.free_bytes) for g in gpus] == [
        (0, "Navi 21 [Radeon RX 6800/6800 XT / 6900 XT]", 17163091968, 17163091968 - 16777216),
        (1, "Aldebaran/MI200 [Instinct MI210]", 68702699520, 68702699520 - 10842275840),
    ]


def test_rocm_text_form() -> None:
    [gpu] = parse_rocm_smi(recorded("rocm-smi-text.txt"))
    assert (gpu.index, gpu.name, gpu.total_bytes, gpu.free_bytes) == (
        0,
        "Navi31 [Radeon RX 7900 XT/7900 XTX]",
        25753026560,
        25753026560 - 1113587712,
    )


def test_rocm_without_a_name_gets_a_generic_one() -> None:
    output = '{"card2": {"VRAM Total Memory (B)": "1000", "VRAM Total Used Memory (B)": "10"}}'
    [gpu] = parse_rocm_smi(output)
    assert (gpu.index, gpu.name, gpu.free_bytes) == (2, "AMD GPU 2", 990)


def test_rocm_driver_error_gives_no_gpu() -> None:
    assert parse_rocm_smi(recorded("rocm-smi-no-driver.txt")) == []


def test_apple_memsize_and_gpu_name() -> None:
    assert parse_sysctl_memsize(recorded("sysctl-hw.memsize-32gib.txt")) == 32 * GIB
    assert parse_sysctl_memsize("hw.memsize: 17179869184\n") == 16 * GIB
    assert parse_system_profiler_gpu_name(recorded("system_profiler-m2-pro.json")) == (
        "Apple M2 Pro"
    )


def test_metal_working_set_is_a_share_of_unified_memory() -> None:
    # About two thirds up to 36 GiB, three quarters above (Metal's recommended working set).
    assert metal_working_set(24 * GIB) == 16 * GIB
    assert metal_working_set(64 * GIB) == 48 * GIB


@pytest.mark.parametrize(
    "parser",
    [parse_nvidia_smi, parse_rocm_smi, parse_system_profiler_gpu_name, parse_sysctl_memsize],
)
def test_garbage_and_empty_output_give_nothing(parser: object) -> None:
    assert callable(parser)
    for text in (recorded("garbage.txt"), "", "\n\n", "[]", '{"card0": "x"}', "null"):
        assert parser(text) in ([], None)


@given(st.text())
def test_parsers_never_raise_on_arbitrary_text(text: str) -> None:
    for gpu in parse_nvidia_smi(text) + parse_rocm_smi(text):
        assert gpu.total_bytes > 0 and 0 <= gpu.free_bytes <= gpu.total_bytes
    parse_system_profiler_gpu_name(text)
    parse_sysctl_memsize(text)


# --- detection with real processes ---------------------------------------------------------------


@pytest.fixture
def tool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty directory that is the whole PATH: tools exist only if a test puts them there."""
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", str(directory))
    return directory


def install_tool(
    directory: Path, name: str, *, prints: str = "", status: int = 0, sleep: float = 0.0
) -> None:
    """A real executable called `name` that prints a recorded file, exits with `status`, or
    hangs for `sleep` seconds."""
    body = [
        f"#!{sys.executable}",
        "import sys, time",
        f"time.sleep({sleep!r})",
    ]
    if prints:
        body.append(f"sys.stdout.buffer.write(open({str(DATA / prints)!r}, 'rb').read())")
    body.append(f"sys.exit({status})")
    path = directory / name
    path.write_text("\n".join(body) + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_no_tools_means_cpu_only_with_reasons(tool_dir: Path) -> None:
    probe = probe_gpus(system="linux", machine="x86_64")
    assert probe.cpu_only
    assert probe.gpus == ()
    assert any("nvidia-smi is not installed" in p for p in probe.problems)
    assert any("rocm-smi is not installed" in p for p in probe.problems)


def test_nvidia_tool_found_and_parsed(tool_dir: Path) -> None:
    install_tool(tool_dir, "nvidia-smi", prints="nvidia-smi-two-gpus.csv")
    gpus = detect_gpus()
    assert [g.name for g in gpus] == ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A4000"]
    assert all(g.vendor is GpuVendor.NVIDIA for g in gpus)


def test_nvidia_and_amd_together(tool_dir: Path) -> None:
    install_tool(tool_dir, "nvidia-smi", prints="nvidia-smi-rtx4060.csv")
    install_tool(tool_dir, "rocm-smi", prints="rocm-smi-7900xtx.json")
    probe = probe_gpus(system="linux", machine="x86_64")
    assert [g.vendor for g in probe.gpus] == [GpuVendor.NVIDIA, GpuVendor.AMD]
    assert probe.problems == ()


def test_failing_tool_with_its_error_text_gives_no_gpu(tool_dir: Path) -> None:
    install_tool(tool_dir, "nvidia-smi", prints="nvidia-smi-driver-failed.txt", status=9)
    install_tool(tool_dir, "rocm-smi", prints="rocm-smi-text.txt")
    probe = probe_gpus(system="linux", machine="x86_64")
    assert [g.vendor for g in probe.gpus] == [GpuVendor.AMD]
    assert "nvidia-smi exited with status 9" in probe.problems


def test_tool_that_prints_garbage_gives_no_gpu(tool_dir: Path) -> None:
    install_tool(tool_dir, "nvidia-smi", prints="garbage.txt")
    install_tool(tool_dir, "rocm-smi", prints="garbage.txt")
    probe = probe_gpus(system="linux", machine="x86_64")
    assert probe.cpu_only
    assert "nvidia-smi reported no GPU with readable memory figures" in probe.problems
    assert "rocm-smi reported no GPU with readable memory figures" in probe.problems


def test_hanging_tool_is_abandoned(tool_dir: Path) -> None:
    install_tool(tool_dir, "nvidia-smi", prints="nvidia-smi-rtx4060.csv", sleep=30)
    probe = probe_gpus(system="linux", machine="x86_64", timeout=0.5)
    assert probe.cpu_only
    assert "nvidia-smi did not answer within 0.5 s" in probe.problems


def test_tool_that_cannot_be_executed(tool_dir: Path) -> None:
    path = tool_dir / "nvidia-smi"
    path.write_text("#!/nonexistent/interpreter\n")
    path.chmod(0o755)
    with pytest.raises(ToolFailed, match="nvidia-smi could not be started"):
        run_tool(["nvidia-smi"])
    assert probe_gpus(system="linux", machine="x86_64").cpu_only


def test_apple_silicon_reports_unified_memory(tool_dir: Path) -> None:
    install_tool(tool_dir, "sysctl", prints="sysctl-hw.memsize-32gib.txt")
    install_tool(tool_dir, "system_profiler", prints="system_profiler-m2-pro.json")
    probe = probe_gpus(system="darwin", machine="arm64")
    assert probe.gpus == (
        Gpu(
            index=0,
            name="Apple M2 Pro",
            vendor=GpuVendor.APPLE,
            total_bytes=32 * GIB,
            free_bytes=32 * GIB * 2 // 3,
            unified_memory=True,
        ),
    )
    assert probe.gpus[0].backend == "metal"


def test_apple_without_system_profiler_still_has_a_gpu(tool_dir: Path) -> None:
    install_tool(tool_dir, "sysctl", prints="sysctl-hw.memsize-32gib.txt")
    [gpu] = probe_gpus(system="darwin", machine="arm64").gpus
    assert gpu.name == "Apple Silicon GPU" and gpu.unified_memory


def test_apple_with_garbage_from_sysctl_is_cpu_only(tool_dir: Path) -> None:
    install_tool(tool_dir, "sysctl", prints="garbage.txt")
    probe = probe_gpus(system="darwin", machine="arm64")
    assert probe.cpu_only
    assert "sysctl hw.memsize printed something unexpected" in probe.problems


def test_intel_mac_is_cpu_only_even_with_tools(tool_dir: Path) -> None:
    install_tool(tool_dir, "sysctl", prints="sysctl-hw.memsize-32gib.txt")
    probe = probe_gpus(system="darwin", machine="x86_64")
    assert probe.cpu_only


def test_a_runner_that_breaks_its_contract_does_not_crash_detection() -> None:
    def broken(argv: object, timeout: float) -> str:
        raise RuntimeError("unexpected")

    probe = probe_gpus(broken, system="linux", machine="x86_64")
    assert probe.cpu_only
    assert probe.problems == ("GPU detection failed: unexpected",) * 2


def test_real_detection_on_this_machine() -> None:
    """This machine has no GPU tools: detection says CPU only, and says why."""
    probe = probe_gpus()
    has_tools = shutil.which("nvidia-smi") or shutil.which("rocm-smi")
    if sys.platform.startswith("linux") and not has_tools:
        assert probe.cpu_only
        assert len(probe.problems) == 2
    for gpu in probe.gpus:
        assert gpu.total_bytes > 0 and gpu.free_bytes <= gpu.total_bytes
    assert os.environ.get("PATH")

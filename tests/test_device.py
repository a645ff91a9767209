"""One device policy for every spotter, trainer and flow port (docs/architecture.md)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from napari_mespot.core import device
from napari_mespot.core.device import DeviceChoice, DeviceUnavailableError, fallback_note, resolve_device


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(device, "cuda_available", lambda: False)


@pytest.fixture
def a_gpu(monkeypatch):  # the hardware is the boundary: a GPU machine is lent only now and then
    monkeypatch.setattr(device, "cuda_available", lambda: True)


def test_without_a_gpu_cuda_falls_back_with_the_one_note(no_gpu):
    assert resolve_device("auto") == DeviceChoice("cpu")
    assert resolve_device("cpu") == DeviceChoice("cpu")
    assert resolve_device("cuda", "VoVNet") == DeviceChoice("cpu", fallback_note("VoVNet"))
    assert resolve_device("cuda:1", "VoVNet").note == fallback_note("VoVNet")
    assert "VoVNet ran on the CPU" in fallback_note("VoVNet")


def test_with_a_gpu_auto_and_cuda_take_it(a_gpu):
    assert resolve_device("auto") == DeviceChoice("cuda")
    assert resolve_device("CUDA:0") == DeviceChoice("cuda:0")
    assert resolve_device("cuda").is_cuda and not resolve_device("cpu").is_cuda


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "", "cuda:"])
def test_an_unknown_device_is_the_one_error(name, no_gpu):
    with pytest.raises(DeviceUnavailableError, match="use auto, cpu, cuda"):
        resolve_device(name)


def test_vovnet_on_cuda_without_a_gpu_runs_on_the_cpu_and_notes_it(no_gpu):
    torch = pytest.importorskip("torch")
    from napari_mespot.core.spotters.vovnet.method import spotter

    spot = spotter()
    settings = spot.settings(device="cuda")
    assert spot.load_model(None, settings).model.parameters().__next__().device == torch.device("cpu")


@pytest.mark.slow
@pytest.mark.parametrize(("method", "what"), [("prototype", "the dis flow"), ("vovnet", "VoVNet")])
def test_cuda_without_a_gpu_is_said_even_under_quiet(cli, clip, tmp_path, method, what, no_gpu):
    """Both spotters run on the CPU and say so in the same words, also with --quiet (the GPU is
    taken away where there is one: the device policy asks ``cuda_available`` alone)."""
    args = ["spot", clip, "--method", method, "--device", "cuda", "--out", tmp_path / "out.csv", "--quiet"]
    if method == "prototype":
        args += ["--preset", "fast"]
    code, _, err = cli(*args)
    assert code == 0, err
    assert f"note: {fallback_note(what)}" in err


def _system_llvm() -> str | None:
    import glob

    found = sorted(glob.glob("/usr/lib/x86_64-linux-gnu/libLLVM*.so*") + glob.glob("/usr/lib64/libLLVM*.so*"))
    return found[0] if found else None


@pytest.mark.skipif(
    importlib.util.find_spec("triton") is None or _system_llvm() is None,
    reason="needs torch's triton (its CUDA wheels) and a system LLVM (Mesa's) to show the clash",
)
def test_training_survives_a_process_with_mesas_llvm_loaded():
    """Mesa's LLVM loaded (napari under software OpenGL), then an optimiser step: without the
    guard torch's lazy import of triton crashes the process (exit 139); with it the step runs."""
    step = (
        "import ctypes, sys, torch\n"
        f"ctypes.CDLL({_system_llvm()!r}, mode=ctypes.RTLD_GLOBAL)\n"
        "from napari_mespot.core.device import keep_triton_out_if_llvm_loaded\n"
        "if sys.argv[1] == 'guarded': assert keep_triton_out_if_llvm_loaded()\n"
        "w = torch.zeros(3, requires_grad=True); opt = torch.optim.Adam([w])\n"
        "w.sum().backward(); opt.step(); print('stepped')\n"
    )
    unguarded = subprocess.run([sys.executable, "-c", step, "plain"], capture_output=True, text=True)
    guarded = subprocess.run([sys.executable, "-c", step, "guarded"], capture_output=True, text=True)
    assert unguarded.returncode < 0, unguarded.stderr[-2000:]  # killed by a signal: the clash is real here
    assert guarded.returncode == 0 and "stepped" in guarded.stdout, guarded.stderr[-2000:]

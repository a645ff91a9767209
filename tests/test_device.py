"""One device policy for every spotter, trainer and flow port (docs/architecture.md)."""

from __future__ import annotations

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
def test_cuda_without_a_gpu_is_said_even_under_quiet(cli, clip, tmp_path, method, what):
    """Both spotters run on the CPU and say so in the same words, also with --quiet."""
    if device.cuda_available():
        pytest.skip("this machine has a GPU: cuda is not a fallback here")
    args = ["spot", clip, "--method", method, "--device", "cuda", "--out", tmp_path / "out.csv", "--quiet"]
    if method == "prototype":
        args += ["--preset", "fast"]
    code, _, err = cli(*args)
    assert code == 0, err
    assert f"note: {fallback_note(what)}" in err

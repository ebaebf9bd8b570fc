"""`DenoiserPipeline.push_to_hub` against a monkeypatched `HfApi` (never the network)."""
import shutil
from pathlib import Path

import numpy as np
import torch

import improve_nb.diffusion as D


class FakeHfApi:
    "Records create_repo / upload_folder calls and keeps a copy of the uploaded folder, like the Hub would."
    calls, store = [], None
    def __init__(self, token=None): FakeHfApi.calls.append(("init", token))
    def create_repo(self, repo_id, private=False, exist_ok=False, repo_type=None, **kw):
        FakeHfApi.calls.append(("create_repo", repo_id, private, exist_ok, repo_type)); return f"https://hub.invalid/{repo_id}"
    def upload_folder(self, repo_id, folder_path, commit_message=None, repo_type=None, **kw):
        FakeHfApi.calls.append(("upload_folder", repo_id, commit_message, repo_type))
        shutil.copytree(folder_path, FakeHfApi.store / repo_id.replace("/", "__"))
        return "commit-123"


def test_push_to_hub_uploads_pipeline_and_card(tmp_path, monkeypatch):
    FakeHfApi.calls, FakeHfApi.store = [], tmp_path / "hub"
    monkeypatch.setattr(D, "HfApi", FakeHfApi)
    torch.manual_seed(0)
    m = D.ClassConditionalUNet(classes=["nevus", "melanoma"], image_size=8, channels=3, preset="tiny")
    pipe = D.DenoiserPipeline(m, D.make_noise_schedule(50, prediction_type="v_prediction"), D.ClassConditionalUNet.from_config(m.config),
                              info={"steps_done": 0})
    assert pipe.push_to_hub("someone/derm-denoiser", token="tok", private=True) == "commit-123"
    kinds = [c[0] for c in FakeHfApi.calls]
    assert kinds == ["init", "create_repo", "upload_folder"]
    assert FakeHfApi.calls[0] == ("init", "tok")
    assert FakeHfApi.calls[1] == ("create_repo", "someone/derm-denoiser", True, True, "model")
    up = FakeHfApi.store / "someone__derm-denoiser"
    card = (up / "README.md").read_text()
    assert card.startswith("---") and "library_name: improve_nb" in card and "melanoma" in card and "v_prediction" in card
    for f in ["pipeline.json", "model/config.json", "model/diffusion_pytorch_model.safetensors",
              "ema/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json"]:
        assert (up / f).exists(), f
    back = D.DenoiserPipeline.from_pretrained(up)
    assert back.classes == ["nevus", "melanoma"] and back.prediction_type == "v_prediction"
    for a, b in zip(pipe.ema_model.state_dict().values(), back.ema_model.state_dict().values()): assert torch.equal(a, b)
    g = lambda: torch.Generator().manual_seed(3)
    x, _ = pipe(labels=[0, 1], num_inference_steps=3, generator=g(), device="cpu")
    y, _ = back(labels=[0, 1], num_inference_steps=3, generator=g(), device="cpu")
    np.testing.assert_array_equal(x, y)

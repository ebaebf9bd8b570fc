"""PrototypeNet training switches and the prototype-conditioned denoiser, end to end with fastai (a few seconds of CPU each)."""
import tempfile

import numpy as np
import pytest
import torch

from improve_nb.data import ImageDataset
from improve_nb.diffusion import ClassConditionalUNet, train_denoiser
from improve_nb.prototypes import NoiseAug, PrototypeNet, evaluate_prototype_net, init_class_embedding, train_prototype_net


from _toy import toy_dataset  # tests/_toy.py (pytest puts tests/ on sys.path)


TR, VA = toy_dataset(192, seed=0), toy_dataset(96, seed=1, split="valid")
KW = dict(backbone="test_resnet", dim=16, epochs=4, bs=32, device="cpu", seed=0)


def test_noise_aug_helps_on_xhat0_like_inputs():
    "The ablation the guide relies on: noise augmentation keeps the net accurate on degraded (x̂0-like) inputs."
    _, with_aug = train_prototype_net(TR, VA, noise_aug="x0hat", **KW)
    _, without = train_prototype_net(TR, VA, noise_aug=None, **KW)
    assert with_aug["valid"]["accuracy"] > 0.8 and without["valid"]["accuracy"] > 0.8
    a, b = with_aug["valid"]["accuracy_by_t"], without["valid"]["accuracy_by_t"]
    assert list(a) == list(b) == ["t in [0, 250)", "t in [250, 500)", "t in [500, 750)", "t in [750, 1000)"]
    assert a["t in [250, 500)"] > b["t in [250, 500)"], (a, b)
    assert without["time_cond"] is False and with_aug["time_cond"] is True


def test_xt_aug_k_prototypes_cosine_and_roundtrip():
    net, rep = train_prototype_net(TR, VA, noise_aug="xt", k=2, metric="cosine", reduce="softmin", **KW)
    assert net.prototypes.shape == (3, 2, 16) and net.config.input_kind == "xt"
    assert rep["valid"]["accuracy"] > 0.6, rep
    x = torch.from_numpy(VA.images[:8]).permute(0, 3, 1, 2).float() / 127.5 - 1
    with tempfile.TemporaryDirectory() as d:
        net.save_pretrained(d)
        back = PrototypeNet.from_pretrained(d).eval()
    torch.testing.assert_close(back.classify(x, 0.3)[1], net.classify(x, 0.3)[1])
    assert back.config.class_names == ["blob", "hstripes", "vstripes"]
    again = evaluate_prototype_net(back, VA, NoiseAug("xt"), device="cpu")
    assert again == rep["valid"]


def test_bad_training_parameters():
    with pytest.raises(ValueError, match="noise_aug must be"): train_prototype_net(TR, noise_aug="blur")
    with pytest.raises(ValueError, match="epochs must be >= 1"): train_prototype_net(TR, epochs=0)
    with pytest.raises(ValueError, match="lam .compactness weight. must be >= 0"): train_prototype_net(TR, lam=-1, **KW)
    with pytest.raises(ValueError, match="cannot evaluate on an empty set"): evaluate_prototype_net(PrototypeNet(3), TR.subset([]))


@pytest.mark.parametrize("freeze", [True, False])
def test_prototype_conditioned_denoiser_through_fastai_training(freeze):
    "A frozen prototype-initialised class table stays bit-identical through train_denoiser (AdamW, weight decay on)."
    torch.manual_seed(0)
    model = ClassConditionalUNet(TR.classes, image_size=16, channels=3, preset="tiny")
    info = init_class_embedding(model, torch.randn(3, 2, 16), freeze=freeze)
    assert info["projection"].shape == (16, model.class_embedding.embedding_dim)
    before = model.class_embedding.weight.detach().clone()
    train_denoiser(TR, model=model, steps=3, bs=16, wd=0.1, lr=1e-2, device="cpu", progress=False)
    assert torch.equal(model.class_embedding.weight.detach(), before) == freeze

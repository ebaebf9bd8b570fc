"""PrototypeGuide on a tiny *trained* model: guidance lowers the prototype distance of samples with every sampler.

A `PrototypeNet` (noise-augmented, time-conditioned) and a tiny class-conditional denoiser are trained for about a
minute of CPU on synthetic 16 px images with three visually distinct classes; samples drawn with and without the guide
from the same generator are scored with `mean_prototype_distance` (the clean net, σ = 0).
"""
import numpy as np
import pytest
import torch

from improve_nb.core import images_to_tensor
from improve_nb.data import ImageDataset
from improve_nb.diffusion import make_noise_schedule, sample, train_denoiser
from improve_nb.guidance import PrototypeGuide, mean_prototype_distance
from improve_nb.prototypes import train_prototype_net


from _toy import toy_dataset  # tests/_toy.py (pytest puts tests/ on sys.path)


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    tr, va = toy_dataset(192, seed=0), toy_dataset(96, seed=1, split="valid")
    pnet, rep = train_prototype_net(tr, va, backbone="test_resnet", dim=16, epochs=4, bs=32, device="cpu", seed=0)
    assert rep["valid"]["accuracy"] > 0.8, rep
    pipe = train_denoiser(tr, preset="tiny", steps=300, bs=32, lr=3e-3, device="cpu", progress=False, ema_decay=0.99, seed=0)
    # Same betas as training; `timestep_spacing="leading"` set explicitly so that DPM-Solver++ (built from this
    # config) does not start at t=999, where the cosine schedule's ᾱ is ~2e-9.
    ns = make_noise_schedule(timestep_spacing="leading")
    return pnet, pipe.sampling_model(use_ema=False), ns


KW = dict(n_per_class=6, num_inference_steps=8, device="cpu", cfg_scale=2.0)


@pytest.mark.parametrize("sampler,mode", [("ddim", "cheap"), ("ddpm", "cheap"), ("dpm++", "cheap"), ("ddim", "full")])
def test_guidance_lowers_mean_prototype_distance(trained, sampler, mode):
    pnet, model, ns = trained
    im0, lab = sample(model, ns, sampler=sampler, generator=torch.Generator().manual_seed(1), **KW)
    guide = PrototypeGuide(pnet, scale=0.3, mode=mode).check_denoiser(model)
    im1, lab1 = sample(model, ns, sampler=sampler, guides=[guide], generator=torch.Generator().manual_seed(1), **KW)
    np.testing.assert_array_equal(lab, lab1)
    d0, d1 = mean_prototype_distance(pnet, im0, lab), mean_prototype_distance(pnet, im1, lab)
    assert d1.mean() < 0.9 * d0.mean(), (sampler, mode, float(d0.mean()), float(d1.mean()))
    assert (d1 < d0).float().mean() > 0.5, (sampler, mode, d0, d1)


def test_guided_sampling_is_deterministic(trained):
    pnet, model, ns = trained
    g = PrototypeGuide(pnet, scale=0.3, t_window=(0.1, 0.9), schedule="ramp")
    a, _ = sample(model, ns, guides=[g], sampler="ddpm", generator=torch.Generator().manual_seed(5), **KW)
    b, _ = sample(model, ns, guides=[g], sampler="ddpm", generator=torch.Generator().manual_seed(5), **KW)
    np.testing.assert_array_equal(a, b)


def test_guidance_raises_net_accuracy_of_samples(trained):
    "The samples' class, as the prototype net reads it, matches the asked-for class at least as often with the guide."
    pnet, model, ns = trained
    im0, lab = sample(model, ns, generator=torch.Generator().manual_seed(3), **KW)
    im1, _ = sample(model, ns, guides=[PrototypeGuide(pnet, scale=0.3)], generator=torch.Generator().manual_seed(3), **KW)
    acc = lambda im: float((pnet.classify(images_to_tensor(im))[0].numpy() == lab).mean())
    assert acc(im1) >= acc(im0), (acc(im0), acc(im1))


def test_cheap_guide_leaves_no_parameter_grads(trained):
    pnet, model, ns = trained
    for p in [*pnet.parameters(), *model.parameters()]: p.grad = None      # training leaves grads behind
    sample(model, ns, guides=[PrototypeGuide(pnet, scale=0.3), PrototypeGuide(pnet, scale=0.3, mode="full")],
           generator=torch.Generator().manual_seed(0), n_per_class=1, num_inference_steps=3, device="cpu")
    assert all(p.grad is None for p in pnet.parameters())
    assert all(p.grad is None for p in model.parameters())


def test_softmax_objective_lowers_the_nets_loss(trained):
    "objective='softmax' lowers the prototype classifier's cross-entropy of samples (at σ = 0) against unguided ones."
    pnet, model, ns = trained
    im0, lab = sample(model, ns, generator=torch.Generator().manual_seed(4), **KW)
    guide = PrototypeGuide(pnet, scale=0.3, objective="softmax").check_denoiser(model)
    im1, _ = sample(model, ns, guides=[guide], generator=torch.Generator().manual_seed(4), **KW)
    def ce(im):
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(pnet(images_to_tensor(im)), torch.as_tensor(lab), reduction="none")
    c0, c1 = ce(im0), ce(im1)
    assert c1.mean() < 0.9 * c0.mean(), (float(c0.mean()), float(c1.mean()))
    d0, d1 = mean_prototype_distance(pnet, im0, lab), mean_prototype_distance(pnet, im1, lab)
    assert d1.mean() < d0.mean(), (float(d0.mean()), float(d1.mean()))    # still towards the target prototype

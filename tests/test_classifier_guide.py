"""ClassifierGuide and NoisyClassifier (HistoDiffusion's classifier guidance).

- ᾱ_t handed to the guide is the scheduler's `alphas_cumprod` at every visited timestep, for DDPM, DDIM and
  DPM-Solver++ at 10, 25 and 50 steps (a spy guide records what `sample` passes);
- class-count checks, composition with `PrototypeGuide` and classifier-free guidance, no gradient left on any model;
- `train_noisy_classifier` beats chance on low-noise bins and reports accuracy per timestep bin;
- on a tiny *trained unconditional* denoiser (HistoDiffusion's setting: pre-trained without labels), guidance by a
  trained noisy classifier makes samples of the asked-for class, as judged by the classifier itself (on the clean
  sample) and by an independent rule-based judge of the toy classes. About a minute and a half of CPU in all.
"""
import tempfile

import numpy as np
import pytest
import torch

from improve_nb.core import images_to_tensor
from improve_nb.diffusion import ClassConditionalUNet, make_noise_schedule, make_sampler, sample, train_denoiser
from improve_nb.guidance import ClassifierGuide, NoisyClassifier, PrototypeGuide, train_noisy_classifier
from improve_nb.prototypes import PrototypeNet

from _toy import toy_dataset  # tests/_toy.py (pytest puts tests/ on sys.path)


def toy_judge(images: np.ndarray) -> np.ndarray:
    "Rule-based judge of the toy classes (0 blob, 1 horizontal stripes, 2 vertical stripes, -1 none of them)."
    g = images.astype(np.float32).mean(-1) / 255
    gy, gx = np.abs(np.diff(g, axis=1)).mean((1, 2)), np.abs(np.diff(g, axis=2)).mean((1, 2))
    s, q = g.shape[1], g.shape[1] // 4
    centre = g[:, q:s - q, q:s - q].mean((1, 2))
    border = (g.sum((1, 2)) - centre * (s - 2 * q) ** 2) / (s * s - (s - 2 * q) ** 2)
    return np.where(gy > 1.5 * gx, 1, np.where(gx > 1.5 * gy, 2, np.where(centre - border > 0.08, 0, -1)))


@pytest.fixture(scope="module", autouse=True)
def _threads():
    # one intra-op thread: on a shared 2-core machine, more threads than free cores makes these tiny models 10-100x slower
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def toy():
    return toy_dataset(192, seed=0), toy_dataset(96, seed=1, split="valid")


@pytest.fixture(scope="module")
def noisy_clf(toy):
    tr, va = toy
    ns = make_noise_schedule(timestep_spacing="leading")
    clf, rep = train_noisy_classifier(tr, steps=200, bs=32, lr=3e-3, device="cpu", seed=0, valid=va, noise_schedule=ns)
    return clf, rep, ns


def test_toy_judge_is_right_on_real_images():
    for seed in (0, 1):
        d = toy_dataset(150, seed=seed)
        assert (toy_judge(d.images) == d.labels).mean() > 0.95
    noise = np.random.default_rng(0).integers(0, 256, (50, 16, 16, 3), dtype=np.uint8)
    assert (toy_judge(noise) == -1).mean() > 0.9                 # noise is none of the classes


def test_train_noisy_classifier_report(noisy_clf):
    clf, rep, _ = noisy_clf
    tab = rep["per_bin"]
    assert list(tab.bin) == ["clean", "[0.00, 0.20)", "[0.20, 0.40)", "[0.40, 0.60)", "[0.60, 0.80)", "[0.80, 1.00)", "all"]
    assert (tab.n.iloc[:-1] == 96).all() and tab.n.iloc[-1] == 5 * 96
    assert rep["valid_on"] == "valid" and rep["n_valid"] == 96 and rep["chance"] == pytest.approx(1 / 3)
    low = tab.set_index("bin").loc[["clean", "[0.00, 0.20)", "[0.20, 0.40)"], "accuracy"]
    assert (low > 0.8).all(), tab                                  # chance is 1/3
    assert tab.accuracy.iloc[5] < tab.accuracy.iloc[0], tab        # t -> T: x_t is nearly pure noise
    assert rep["accuracy"] == pytest.approx(tab.accuracy.iloc[-1])
    with tempfile.TemporaryDirectory() as d:                       # diffusers save/load round trip
        clf.save_pretrained(d)
        back = NoisyClassifier.from_pretrained(d)
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad(): torch.testing.assert_close(back(x, 250), clf.cpu()(x, 250))
    assert back.classes == ["blob", "hstripes", "vstripes"]


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpm++"])
@pytest.mark.parametrize("steps", [10, 25, 50])
def test_alpha_bar_is_the_schedulers(sampler, steps):
    ns = make_noise_schedule(timestep_spacing="leading")
    torch.manual_seed(0)
    unet = ClassConditionalUNet(["a", "b", "c"], image_size=8, channels=1, preset="tiny")
    clf = NoisyClassifier(["a", "b", "c"], in_channels=1, image_size=8, width=8, depth=1)

    class Spy(ClassifierGuide):
        seen = []
        def __call__(self, x_t, t, eps, labels, alpha_bar_t, model_fn=None):
            self.seen.append((t, float(alpha_bar_t))); return super().__call__(x_t, t, eps, labels, alpha_bar_t, model_fn)

    spy = Spy(clf, scale=0.5)
    spy.seen = []
    sample(unet, ns, labels=[0, 1, 2], num_inference_steps=steps, sampler=sampler, guides=[spy], device="cpu",
           generator=torch.Generator().manual_seed(0))
    sch = make_sampler(sampler, ns); sch.set_timesteps(steps)
    want_t = [int(t) for t in sch.timesteps]
    assert [t for t, _ in spy.seen] == want_t
    np.testing.assert_allclose([a for _, a in spy.seen], [float(sch.alphas_cumprod[t]) for t in want_t], rtol=0, atol=1e-7)
    np.testing.assert_allclose([a for _, a in spy.seen], [float(ns.alphas_cumprod[t]) for t in want_t], rtol=0, atol=1e-7)


def test_class_count_mismatch_and_unconditional():
    clf = NoisyClassifier(["a", "b", "c"], in_channels=3, image_size=8, width=8, depth=1)
    four = ClassConditionalUNet(["a", "b", "c", "d"], image_size=8, channels=3)
    with pytest.raises(ValueError, match="the classifier predicts 3 classes but the denoiser has n_classes=4"):
        ClassifierGuide(clf).check_denoiser(four)
    with pytest.raises(ValueError, match="predicts 3 classes"):                      # sample() runs the check
        sample(four, make_noise_schedule(), n_per_class=1, num_inference_steps=2, guides=[ClassifierGuide(clf)], device="cpu")
    unc = ClassConditionalUNet(image_size=8, channels=3, unconditional=True)
    assert ClassifierGuide(clf).check_denoiser(unc).n_classes == 3                 # unconditional: not counted
    with pytest.raises(ValueError, match="predicts 3 classes but n_classes=2"):
        ClassifierGuide(clf, n_classes=2)


def test_composes_with_prototype_guide_and_cfg():
    ns = make_noise_schedule(timestep_spacing="leading")
    torch.manual_seed(0)
    unet = ClassConditionalUNet(["a", "b", "c"], image_size=16, channels=3, preset="tiny")
    clf = NoisyClassifier(["a", "b", "c"], in_channels=3, image_size=16, width=8, depth=2)
    net = PrototypeNet(3, backbone="test_resnet", dim=8, time_cond=True)
    for p in [*unet.parameters(), *clf.parameters(), *net.parameters()]: p.grad = None
    kw = dict(n_per_class=2, num_inference_steps=6, cfg_scale=2.0, device="cpu")
    run = lambda guides, sampler="ddim": sample(unet, ns, sampler=sampler, guides=guides, generator=torch.Generator().manual_seed(3), **kw)[0]
    both = [ClassifierGuide(clf, 1.0, t_window=(0.1, 1.0)), PrototypeGuide(net, scale=0.3)]
    for sampler in ("ddpm", "ddim", "dpm++"):
        a = run(both, sampler)
        np.testing.assert_array_equal(a, run(both, sampler))                    # deterministic
        assert not np.array_equal(a, run([], sampler)) and not np.array_equal(a, run(both[1:], sampler))
    assert all(p.grad is None for p in [*unet.parameters(), *clf.parameters(), *net.parameters()])


@pytest.fixture(scope="module")
def uncond(toy):
    tr, _ = toy
    pipe = train_denoiser(tr, preset="tiny", steps=300, bs=32, lr=3e-3, device="cpu", progress=False, ema_decay=0.99, seed=0,
                          unconditional=True)
    return pipe.sampling_model(use_ema=False)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm", "dpm++"])
def test_guidance_makes_the_asked_for_class(uncond, noisy_clf, sampler):
    """Unguided, the unconditional model's samples are of the asked-for class only by chance; guided, much more often.

    After 300 training steps the deterministic samplers (DDIM, DPM-Solver++) still give many blurry samples that the
    judge calls none of the classes, guided or not, so the bar there is a clear gain; DDPM's samples are sharp enough for
    most guided ones to pass the judge."""
    clf, _, ns = noisy_clf
    for q in [*uncond.parameters(), *clf.parameters()]: q.grad = None        # training leaves grads behind
    labels = np.repeat([0, 1, 2], 12)
    kw = dict(labels=labels, num_inference_steps=10, sampler=sampler, device="cpu")
    im0, _ = sample(uncond, ns, generator=torch.Generator().manual_seed(1), **kw)
    im1, lab = sample(uncond, ns, guides=[ClassifierGuide(clf, scale=3.0)], generator=torch.Generator().manual_seed(1), **kw)
    np.testing.assert_array_equal(lab, labels)
    judge0, judge1 = (toy_judge(im0) == labels).mean(), (toy_judge(im1) == labels).mean()
    with torch.no_grad():
        p = lambda im: torch.softmax(clf.cpu()(images_to_tensor(im), 0), -1)[torch.arange(len(labels)), torch.as_tensor(labels)].mean().item()
    p0, p1 = p(im0), p(im1)
    print(f"{sampler}: judge accuracy {judge0:.2f} -> {judge1:.2f}, classifier p(target | clean sample) {p0:.2f} -> {p1:.2f}")
    assert p1 > p0 + 0.3 and p1 > 0.75, (sampler, p0, p1)
    assert judge1 > judge0 + 0.15, (sampler, judge0, judge1)
    if sampler == "ddpm": assert judge1 >= 0.5, (sampler, judge0, judge1)
    for q in [*uncond.parameters(), *clf.parameters()]: assert q.grad is None

"""Latent diffusion (improve_nb.latent + the latent/unconditional parts of improve_nb.diffusion): autoencoder round trip
and scale factor, save/load of the codec and the latent pipeline, unconditional sampling with guide targets, latent
training with exact resume, pool errors, and (when the shared PBC data is present) reconstruction on real images."""
import warnings

import numpy as np
import pytest
import torch

from improve_nb.data import ImageDataset, load_dataset, resize_images, shared_data_path
from improve_nb.diffusion import (BrightnessGuide, ClassConditionalUNet, DenoiserPipeline, Guide, LatentDataset, list_checkpoints,
                                  make_noise_schedule, sample, train_denoiser)
from improve_nb.latent import (LatentCodec, LatentPipeline, encode_dataset, fit_latent_scale, make_autoencoder, make_pool,
                               pretrain_latent_denoiser, reconstruction_metrics, train_autoencoder)

warnings.filterwarnings("ignore", category=FutureWarning)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def demo():
    return load_dataset("demo", image_size=16, n_per_class=8)


@pytest.fixture(scope="module")
def codec(demo):
    torch.manual_seed(0)
    c = LatentCodec(make_autoencoder(16, 3, latent_channels=4, down=2, width=8))
    fit_latent_scale(c, demo.images)
    return c


def test_codec_round_trip_shapes_and_dtypes(codec, demo):
    z = codec.encode(demo.images, batch_size=7)
    assert z.shape == (40, 4, 4, 4) and z.dtype == torch.float32 and z.device.type == "cpu"
    x = codec.decode(z, batch_size=9)
    assert x.shape == demo.images.shape and x.dtype == np.uint8
    assert codec.decode(z[:0]).shape == (0, 16, 16, 3) and codec.encode(demo.images[:0]).shape == (0, 4, 4, 4)
    # the differentiable versions agree with the batched uint8 ones
    from improve_nb.core import images_to_tensor
    with torch.no_grad(): zt = codec.encode_tensor(images_to_tensor(demo.images[:3]))
    torch.testing.assert_close(zt, z[:3], atol=1e-5, rtol=1e-5)


def test_scale_factor_gives_unit_std_latents(codec, demo):
    z = codec.encode(demo.images)
    assert abs(float(z.std()) - 1) < 1e-3 and abs(float(z.mean())) < 1e-4
    assert codec.vae.config.scaling_factor == codec.scaling_factor != 1.0
    raw = codec.decode(z)
    # the scale is undone before decoding: scaling the latents by hand and decoding raw gives the same images
    c2 = LatentCodec(codec.vae); s, b = codec.scaling_factor, codec.shift_factor
    c2.set_scale(1.0, 0.0)
    assert np.array_equal(c2.decode(z / s + b), raw)
    codec.set_scale(s, b)
    st = fit_latent_scale(codec, demo.images, shift=False)
    assert st["shift_factor"] == 0.0 and codec.shift_factor == 0.0
    fit_latent_scale(codec, demo.images)          # restore the shifted scale for the other tests


def test_train_autoencoder_scale_and_report(demo, tmp_path):
    pool = [demo, load_dataset("demo", image_size=16, n_per_class=4, split="val")]
    c, rep = train_autoencoder(pool, latent_channels=3, down=2, steps=6, bs=8, width=8, device="cpu", seed=1,
                               progress=False, out_dir=tmp_path, valid_ds=pool[1])
    assert c.latent_channels == 3 and c.factor == 4 and rep["latent_shape"] == [3, 4, 4]
    z = c.encode(make_pool(pool).images)
    assert abs(float(z.std()) - 1) < 1e-3                           # fitted on the pooled training images
    assert set(rep["recon"]) == {"train", "val"} and np.isfinite(rep["recon"]["val"]["psnr"])
    assert (tmp_path / "autoencoder" / "config.json").exists() and (tmp_path / "autoencoder_report.json").exists()
    assert len(c.loss_terms["recon"]) == 6
    c2, _ = train_autoencoder(pool, latent_channels=3, down=2, steps=6, bs=8, width=8, device="cpu", seed=1, progress=False)
    for a, b in zip(c.state_dict().values(), c2.state_dict().values()): assert torch.equal(a, b)   # deterministic per seed
    with pytest.raises(ValueError, match="valid_ds demo/test"):
        train_autoencoder(demo, steps=1, valid_ds=load_dataset("demo", image_size=32, n_per_class=1, split="test"), device="cpu")
    with pytest.raises(ValueError, match="recon must be 'l1' or 'mse'"):
        train_autoencoder(demo, steps=1, recon="lpips", device="cpu")


def test_codec_save_load(codec, demo, tmp_path):
    codec.save_pretrained(tmp_path / "ae")
    c2 = LatentCodec.from_pretrained(tmp_path / "ae")
    assert (c2.scaling_factor, c2.shift_factor) == (codec.scaling_factor, codec.shift_factor)
    assert torch.equal(c2.encode(demo.images), codec.encode(demo.images))
    with pytest.raises(FileNotFoundError, match="no config.json"): LatentCodec.from_pretrained(tmp_path)
    ClassConditionalUNet(image_size=4, channels=4, unconditional=True).save_pretrained(tmp_path / "unet")
    with pytest.raises(ValueError, match="expected an AutoencoderKL"): LatentCodec.from_pretrained(tmp_path / "unet")


def test_encode_dataset(codec, demo):
    lat = encode_dataset(codec, demo)
    assert isinstance(lat, LatentDataset) and lat.latents.shape == (40, 4, 4, 4)
    assert lat.classes == demo.classes and np.array_equal(lat.labels, demo.labels) and lat.name == "demo"
    assert lat.meta["autoencoder"]["scaling_factor"] == codec.scaling_factor
    s1, s2 = encode_dataset(codec, demo, sample=True, seed=3), encode_dataset(codec, demo, sample=True, seed=3)
    assert torch.equal(s1.latents, s2.latents) and not torch.equal(s1.latents, lat.latents)
    with pytest.raises(ValueError, match="expected 3 channel"):
        encode_dataset(codec, load_dataset("demo", image_size=16, n_per_class=1, channels=1))


def test_unconditional_sample_labels_and_cfg():
    torch.manual_seed(0)
    m = ClassConditionalUNet(image_size=4, channels=4, preset="tiny", unconditional=True)
    ns = make_noise_schedule(100)
    z, y = sample(m, ns, labels=[0, 7, 123], num_inference_steps=3, device="cpu", output="tensor")
    assert z.shape == (3, 4, 4, 4) and list(y) == [0, 7, 123]
    # labels do not change what an unconditional model draws: same seed, different labels, same latents
    z2, _ = sample(m, ns, labels=[5, 5, 5], num_inference_steps=3, device="cpu", output="tensor")
    assert torch.equal(z, z2)
    with pytest.raises(ValueError, match="needs a class-conditional denoiser"):
        sample(m, ns, labels=[0], cfg_scale=1.5, device="cpu")
    with pytest.raises(ValueError, match="needs a class-conditional denoiser"):
        DenoiserPipeline(m, ns)(labels=[0], cfg_scale=0.0, device="cpu")

    class Spy(Guide):
        n_classes = 4
        def __init__(self): super().__init__(1.0); self.labels = []
        def check_denoiser(self, model): assert getattr(model, "unconditional", False)
        def __call__(self, x_t, t, eps, labels, alpha_bar_t, model_fn):
            self.labels.append(labels.tolist()); return torch.zeros_like(eps)
    spy = Spy()
    _, y = sample(m, ns, n_per_class=2, guides=[spy], num_inference_steps=2, device="cpu", output="tensor")
    assert list(y) == [0, 0, 1, 1, 2, 2, 3, 3] and spy.labels[0] == list(y)
    with pytest.raises(ValueError, match=r"0\.\.3 \(the guides' classes\)"):
        sample(m, ns, labels=[4], guides=[spy], device="cpu")
    # a conditional model still checks its own class count
    mc = ClassConditionalUNet(["a", "b"], image_size=4, channels=4)
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.1 \(the model's classes\)"):
        sample(mc, ns, labels=[2], device="cpu")


def test_train_denoiser_on_latents_runs_and_resumes(tmp_path):
    g = torch.Generator().manual_seed(0)
    lat = LatentDataset(torch.randn(24, 4, 4, 4, generator=g), np.arange(24) % 3, ["a", "b", "c"], name="lat")
    kw = dict(preset="tiny", steps=8, bs=6, lr=2e-3, ckpt_every=4, num_train_timesteps=100, device="cpu", seed=2,
              progress=False, unconditional=True, ema_warmup=True)
    ref = train_denoiser(lat, out_dir=tmp_path / "ref", **kw)

    class Stop(Exception): pass
    from fastai.callback.core import Callback
    class StopAt(Callback):
        order = 90
        def after_batch(self):
            if self.training and self.learn.train_iter == 5: raise Stop("stopped after step 5")
    with pytest.raises(Stop): train_denoiser(lat, out_dir=tmp_path / "run", cbs=[StopAt()], **kw)
    assert [p.name for p in list_checkpoints(tmp_path / "run" / "checkpoints")] == ["checkpoint-00000004"]
    res = train_denoiser(lat, out_dir=tmp_path / "run", resume=True, **kw)
    assert len(res.learn.recorder.losses) == 4
    for a, b in zip(ref.model.state_dict().values(), res.model.state_dict().values()): assert torch.equal(a, b)
    for a, b in zip(ref.ema_model.state_dict().values(), res.ema_model.state_dict().values()): assert torch.equal(a, b)
    p = DenoiserPipeline.from_pretrained(tmp_path / "run" / "pipeline")
    assert p.model.unconditional and p.info["data"] == "latents"
    # a class-conditional denoiser on latents works too (labels from the LatentDataset)
    cond = train_denoiser(lat, steps=2, bs=6, num_train_timesteps=100, device="cpu", progress=False)
    assert cond.classes == ["a", "b", "c"] and not cond.model.unconditional


def test_pool_errors(codec, demo):
    big = load_dataset("demo", image_size=32, n_per_class=1)
    with pytest.raises(ValueError, match=r"differ in size or channels \(pool\[0\] demo/train: 16 px × 3 ch, pool\[1\] demo/train: 32 px × 3 ch\)"):
        make_pool([demo, big])
    with pytest.raises(ValueError, match="differ in size or channels"):
        pretrain_latent_denoiser([demo, big], codec, steps=1, device="cpu")
    with pytest.raises(ValueError, match="autoencoder expects 16 px × 3 ch; pass resize=True"):
        pretrain_latent_denoiser(big, codec, steps=1, device="cpu")
    with pytest.raises(ValueError, match="the pool is empty"): make_pool([])
    with pytest.raises(TypeError, match=r"pool\[1\]: expected an improve_nb.data.ImageDataset"): make_pool([demo, "x"])
    gray = load_dataset("demo", image_size=16, n_per_class=1, channels=1)
    with pytest.raises(ValueError, match="differ in size or channels"): make_pool([demo, gray])
    assert make_pool([demo, gray, big], image_size=16, channels=3).images.shape[1:] == (16, 16, 3)


def test_pretrain_pipeline_save_load_and_guides(codec, demo, tmp_path):
    big = load_dataset("demo", image_size=32, n_per_class=2, split="val")
    lp = pretrain_latent_denoiser([demo, big], codec, steps=4, bs=8, device="cpu", resize=True, out_dir=tmp_path,
                                  num_train_timesteps=100, progress=False, classes=demo.classes, ckpt_every=2)
    assert lp.unconditional and lp.info["sources"] == ["demo/train", "demo/val"] and lp.info["counts"] == [40, 10]
    assert list_checkpoints(tmp_path / "denoiser" / "checkpoints")
    ims, y = lp(n_per_class=2, num_inference_steps=3, device="cpu", generator=torch.Generator().manual_seed(1))
    assert ims.shape == (10, 16, 16, 3) and ims.dtype == np.uint8 and list(y) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    lp2 = LatentPipeline.from_pretrained(tmp_path / "latent_pipeline")
    assert lp2.classes == demo.classes and lp2.codec.scaling_factor == codec.scaling_factor
    ims2, _ = lp2(n_per_class=2, num_inference_steps=3, device="cpu", generator=torch.Generator().manual_seed(1))
    assert np.array_equal(ims, ims2)
    lp.save_pretrained(tmp_path / "again"); lp.save_pretrained(tmp_path / "again")       # overwrite is fine
    # a guide works unchanged on latents: BrightnessGuide (full mode differentiates through the latent denoiser)
    kw = dict(labels=[0] * 4, num_inference_steps=4, device="cpu", return_latents=True)
    _, _, z0 = lp(generator=torch.Generator().manual_seed(2), **kw)
    _, _, z1 = lp(generator=torch.Generator().manual_seed(2), guides=[BrightnessGuide(0.5, full=True)], **kw)
    assert float(z1.mean()) > float(z0.mean())
    with pytest.raises(FileNotFoundError, match="no latent_pipeline.json"): LatentPipeline.from_pretrained(tmp_path)


def test_pbc_autoencoder_beats_mean_image():
    "Real blood-cell images (MedMNIST PBC, 28 px resized to 32): a briefly trained autoencoder beats the mean image in PSNR."
    path = shared_data_path("pbc_blood", "pbc_28.npz")
    if path is None: pytest.skip("shared PBC data (../shared/data/pbc_blood/pbc_28.npz) is absent")
    def subset(split, n):      # load at the stored 28 px, resize only the images used (resizing all 12k takes seconds)
        ds = load_dataset("medmnist", root=path, image_size=None, split=split)
        ds = ds.subset(np.sort(np.random.default_rng(0).choice(len(ds), n, replace=False)))
        return ImageDataset(resize_images(ds.images, 32), ds.labels, ds.classes, split, name="pbc")
    ds, val = subset("train", 512), subset("val", 256)
    codec, rep = train_autoencoder(ds, latent_channels=4, down=2, steps=100, bs=16, lr=5e-3, width=8, device="cpu",
                                   seed=0, progress=False, valid_ds=val)
    for split in ("train", "val"):
        r = rep["recon"][split]
        assert r["psnr"] > r["baseline_mean_image_psnr"] + 1, (split, r)     # the set's mean image (per pixel and channel)
        assert r["psnr"] > r["baseline_flat_psnr"] + 3, (split, r)           # each image's own flat mean colour
    assert abs(float(codec.encode(ds.images).std()) - 1) < 1e-3


def test_latent_denoiser_recovers_a_known_gaussian():
    """Unit-std-scale latents well outside [-1, 1]: with v-prediction and no x̂₀ clipping (the latent defaults) every
    sampler reproduces each channel's mean and std after a short run; x̂₀ clipping (the pixel default) would squash them."""
    g = torch.Generator().manual_seed(0)
    S, M = torch.tensor([0.5, 1.5, 0.3, 1.0]), torch.tensor([0.0, 1.0, -0.5, 0.0])
    lat = LatentDataset(torch.randn(300, 4, 4, 4, generator=g) * S.view(1, 4, 1, 1) + M.view(1, 4, 1, 1), name="gauss")
    p = train_denoiser(lat, "tiny", steps=300, bs=32, lr=3e-3, device="cpu", progress=False, unconditional=True,
                       ema_warmup=True, prediction_type="v_prediction")
    assert p.noise_schedule.config.clip_sample is False
    for sampler in ("ddim", "dpm++", "ddpm"):
        z, _ = p(labels=[0] * 128, num_inference_steps=20, sampler=sampler, device="cpu", output="tensor",
                 generator=torch.Generator().manual_seed(1))
        std, mean = z.std(dim=(0, 2, 3)), z.mean(dim=(0, 2, 3))
        assert (std - S).abs().max() < 0.2 and (mean - M).abs().max() < 0.2, (sampler, std, mean)

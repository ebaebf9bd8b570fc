"""improve_nb.evaluation: metrics against independent reference computations, and bad-input messages (fast, CPU)."""
import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from improve_nb.data import ImageDataset
from improve_nb.evaluation import (FeatureExtractor, bootstrap_ci, cached_features, color_fidelity, evaluate, frechet_distance,
                                   kernel_inception_distance, max_pearson, memorization, nearest_neighbors, prdc, save_results,
                                   load_results, classification_scores)

RNG = np.random.default_rng(42)


def test_fid_matches_torchmetrics():
    from torchmetrics.image.fid import _compute_fid
    a, b = RNG.normal(size=(300, 16)), RNG.normal(0.3, 1.5, size=(250, 16))
    ref = _compute_fid(torch.tensor(a.mean(0)), torch.tensor(np.cov(a, rowvar=False)), torch.tensor(b.mean(0)), torch.tensor(np.cov(b, rowvar=False)))
    assert frechet_distance(a, b)["value"] == pytest.approx(float(ref), rel=1e-6)


def test_fid_rank_deficient_covariance():
    # fewer samples than dims (per-class FID on a small class): still finite and matches torchmetrics
    from torchmetrics.image.fid import _compute_fid
    a, b = RNG.normal(size=(10, 32)), RNG.normal(size=(12, 32))
    ref = _compute_fid(torch.tensor(a.mean(0)), torch.tensor(np.cov(a, rowvar=False)), torch.tensor(b.mean(0)), torch.tensor(np.cov(b, rowvar=False)))
    assert frechet_distance(a, b)["value"] == pytest.approx(float(ref), rel=1e-4)


def test_kid_matches_torchmetrics_poly_mmd():
    from torchmetrics.image.kid import poly_mmd
    a, b = RNG.normal(size=(80, 10)), RNG.normal(0.2, 1.0, size=(80, 10))
    ref = float(poly_mmd(torch.tensor(a), torch.tensor(b), degree=3, gamma=None, coef=1.0))
    r = kernel_inception_distance(a, b, n_subsets=2, subset_size=80)
    assert r["value"] == pytest.approx(ref, rel=1e-8) and r["n_real"] == 80 and r["subset_size"] == 80


def test_prdc_matches_sklearn_knn():
    R, G = RNG.normal(size=(120, 6)).astype(np.float32), RNG.normal(0.3, 1.1, size=(90, 6)).astype(np.float32)
    k = 4
    rr = NearestNeighbors(n_neighbors=k + 1).fit(R).kneighbors(R)[0][:, k]
    rg = NearestNeighbors(n_neighbors=k + 1).fit(G).kneighbors(G)[0][:, k]
    D = np.linalg.norm(G[:, None] - R[None], axis=-1)            # gen × real
    exp = dict(precision=(D <= rr[None]).any(1).mean(), recall=(D.T <= rg[None]).any(1).mean(),
               density=(D <= rr[None]).sum(1).mean() / k, coverage=(D.min(0) < rr).mean())
    got = prdc(R, G, k=k, block=17)
    for m, v in exp.items(): assert got[m] == pytest.approx(v, abs=1e-6), m
    assert got["n_real"] == 120 and got["n_gen"] == 90 and got["k"] == k
    same = prdc(R, R, k=k)
    assert same["precision"] == 1.0 and same["recall"] == 1.0 and same["coverage"] == 1.0


def test_max_pearson_matches_corrcoef_and_nn():
    tr = RNG.integers(0, 256, (50, 8, 8, 3), dtype=np.uint8)
    ge = np.concatenate([RNG.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8), tr[[4, 9]]])
    both = np.concatenate([ge, tr]).astype(np.float64)
    c = np.corrcoef(both.reshape(72, -1))[:22, 22:]                     # plain whole-image Pearson (Akbar et al.)
    v, i = max_pearson(ge, tr, block=8, per_channel=False)
    np.testing.assert_allclose(v, c.max(1), atol=1e-5); np.testing.assert_array_equal(i, c.argmax(1))
    cc = both - both.mean((1, 2), keepdims=True)                       # default: each channel's mean removed first
    cc = cc.reshape(72, -1); cc /= np.linalg.norm(cc, axis=1, keepdims=True)
    c2 = (cc[:22] @ cc[22:].T)
    v2, i2 = max_pearson(ge, tr, block=8)
    np.testing.assert_allclose(v2, c2.max(1), atol=1e-5); np.testing.assert_array_equal(i2, c2.argmax(1))
    assert not np.allclose(v, v2)                                       # the two modes really differ on colour images
    m = memorization(ge, tr, threshold=0.95)
    assert m["near_copy_share"] == pytest.approx(2 / 22) and list(m["train_index"][-2:]) == [4, 9]
    q, r = RNG.normal(size=(30, 5)), RNG.normal(size=(40, 5))
    d, ix = nearest_neighbors(q, r, block=7)
    D = np.linalg.norm(q[:, None] - r[None], axis=-1)
    np.testing.assert_array_equal(ix, D.argmin(1)); np.testing.assert_allclose(d, D.min(1), atol=1e-5)


def test_bootstrap_and_scores():
    m, lo, hi = bootstrap_ci(RNG.normal(10, 1, 400), seed=1)
    assert lo < m < hi and hi - lo == pytest.approx(2 * 1.96 / 20, rel=0.25)
    p = np.eye(3)[[0, 1, 2, 2]] * 0.9 + 0.05
    s = classification_scores([0, 1, 2, 1], p, 3)
    assert s["accuracy"] == 0.75 and s["macro_auc"] <= 1.0


def test_color_fidelity_sign():
    x = RNG.integers(50, 200, (20, 8, 8, 3), dtype=np.uint8)
    y = np.clip(x.astype(int) + [30, 0, 0], 0, 255).astype(np.uint8)
    assert color_fidelity(x, x)["color_mean_dist"] == 0
    assert color_fidelity(x, y)["color_mean_dist"] == pytest.approx(30, abs=1e-6)


@pytest.fixture(scope="module")
def toy():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())
    ext = FeatureExtractor("randconv", net, device="cpu")
    x = RNG.integers(0, 256, (60, 12, 12, 3), dtype=np.uint8)
    y = np.arange(60) % 3
    return ext, ImageDataset(x, y, ["a", "b", "c"], name="toy"), x, y


def test_evaluate_bad_input_messages(toy):
    ext, ref, x, y = toy
    ev = lambda g, **kw: evaluate(ref, g, metrics=["fid", "prdc"], extractor=ext, n_boot=10, device="cpu", **kw)
    with pytest.raises(ValueError, match=r"set 'big': images are 16×16 with 3 channel\(s\); expected 12×12 with 3"):
        ev({"big": (np.zeros((60, 16, 16, 3), np.uint8), y)})
    with pytest.raises(ValueError, match=r"set 'gray': images are 12×12 with 1 channel\(s\)"):
        ev({"gray": (x[..., :1], y)})
    with pytest.raises(ValueError, match=r"set 'nob': class 'b' \(label 1\) has no samples"):
        ev({"nob": (x[y != 1], y[y != 1])})
    with pytest.raises(ValueError, match=r"set 'tiny': class 'a' has 2 samples; need at least 6"):
        ev({"tiny": (x[:6], y[:6])})
    with pytest.raises(ValueError, match=r"set 'tiny': 4 samples; need at least 11"):
        ev({"tiny": (x[:4], y[:4])}, per_class=False, k=10)
    with pytest.raises(ValueError, match="needs the argument expert="):
        evaluate(ref, {"g": (x, y)}, metrics=["expert"])
    with pytest.raises(ValueError, match="non-empty dict"):
        evaluate(ref, {}, extractor=ext)
    with pytest.raises(TypeError, match="expected uint8"):
        ev({"float": (x.astype(np.float32), y)})


def test_evaluate_table_and_io(toy, tmp_path):
    ext, ref, x, y = toy
    g = np.clip(x.astype(int) + 80, 0, 255).astype(np.uint8)
    df = evaluate(ref, {"same": (x, y), "bright": (g, y)}, metrics=["fid", "kid", "prdc", "color", "memorization"], extractor=ext,
                  train=ref, kid_subsets=5, kid_subset_size=20, n_boot=50, device="cpu", cache_dir=tmp_path / "cache")
    v = lambda s, m: df.query("set == @s and metric == @m and `class` == 'all'").value.item()
    assert v("same", "fid") == pytest.approx(0, abs=1e-3) and v("bright", "fid") > 0
    assert v("same", "near_copy_share") == 1.0 and v("same", "precision") == 1.0
    assert v("bright", "color_mean_dist") > 50
    assert set(df["class"]) == {"all", "a", "b", "c"}
    assert (df.n > 0).all() and (df.n_ref > 0).all()
    assert len(list((tmp_path / "cache").glob("toy__*.npy"))) == 1
    for suf in ("csv", "json"):
        back = load_results(save_results(df, tmp_path / f"t.{suf}"))
        np.testing.assert_allclose(back.value.to_numpy(), df.value.to_numpy())


def test_cache_key_changes_with_weights(toy, tmp_path):
    ext, ref, x, y = toy
    cached_features(ext, x, "toy", "train", tmp_path)
    h0 = ext.weights_hash
    net2 = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())
    ext2 = FeatureExtractor("randconv", net2, device="cpu")
    assert ext2.weights_hash != h0
    cached_features(ext2, x, "toy", "train", tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 2 and not list(tmp_path.glob(".*tmp"))

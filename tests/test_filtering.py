"""Selective filtering of synthetic images (`improve_nb.filtering`).

Known answers on hand-placed features, distances and probabilities (which images are kept, the ranking, the caps,
threshold edges, classes with no images or none kept), bad input with clear messages, and end to end: an auxiliary
classifier trained briefly on a small labelled set of demo cells (and, when the shared data is there, of real PBC
blood cells) separates correctly labelled "synthetic" images from mislabelled ones, and plugs into
`downstream_utility`. About 30 s of CPU (plus about 30 s for the PBC test).
"""
import numpy as np
import pytest
import torch

from improve_nb.data import ImageDataset, load_dataset, shared_data_path
from improve_nb.evaluation import downstream_utility, train_classifier
from improve_nb.filtering import (CentroidFilter, ConfidenceFilter, FilterResult, PrototypeFilter, apply_filter, keep_rates)


@pytest.fixture(scope="module", autouse=True)
def _threads():
    n = torch.get_num_threads(); torch.set_num_threads(1)     # shared 2-core machine: one intra-op thread is fastest
    yield
    torch.set_num_threads(n)


def at(*deg, r=1.0):
    "2-D points at angles `deg` (degrees) and radius `r`."
    a = np.radians(deg)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


REAL_F = np.concatenate([at(-10, 10), at(80, 100), at(170, 190)])         # centroids at 0°, 90°, 180° (×cos 10°)
REAL_Y = np.array([0, 0, 1, 1, 2, 2])


def test_centroid_keeps_nearest_target_and_ranks():
    f = CentroidFilter(classes=["a", "b", "c"]).fit_features(REAL_F, REAL_Y)
    np.testing.assert_allclose(f.centroids_, np.cos(np.radians(10)) * at(0, 90, 180), atol=1e-12)
    syn = np.concatenate([at(40, 5, 50, 20, r=3.0), at(135.5), at(134.5), at(260)])
    y = np.array([0, 0, 0, 0, 1, 1, 2])
    res = f.filter_features(syn, y)
    # 40°, 5°, 20° are nearest 0°; 50° is nearer 90°; 135.5° is nearer 180° (not class 1's), 134.5° nearer 90°;
    # 260° is nearer 270°... which has no centroid: of 0°, 90°, 180° the nearest is 180° (80° away) -> kept as class 2
    np.testing.assert_array_equal(res.keep, [True, True, False, True, False, True, True])
    np.testing.assert_array_equal(res.details["nearest"], [0, 0, 1, 0, 2, 1, 2])
    assert res.criterion == "centroid" and not res.higher_is_better
    assert np.argsort(res.scores[:4]).tolist() == [1, 3, 0, 2]                 # 5° < 20° < 40° < 50°
    assert res.per_class.kept.tolist() == [3, 1, 1] and res.per_class.n.tolist() == [4, 2, 1]
    # caps: the closest first
    capped = CentroidFilter(max_per_class=2).fit_features(REAL_F, REAL_Y).filter_features(syn, y)
    np.testing.assert_array_equal(capped.keep, [False, True, False, True, False, True, True])
    frac = CentroidFilter(keep_fraction=0.5).fit_features(REAL_F, REAL_Y).filter_features(syn, y)
    np.testing.assert_array_equal(frac.keep, [False, True, False, True, False, True, True])   # round(.5*4)=2, round(.5*2)=1, round(.5*1)=1
    zero = CentroidFilter(max_per_class=0).fit_features(REAL_F, REAL_Y).filter_features(syn, y)
    assert zero.n_kept == 0 and zero.per_class.keep_rate.tolist() == [0.0, 0.0, 0.0]


def test_keep_rates_report_every_class():
    f = CentroidFilter(classes=["a", "b", "c", "d"]).fit_features(np.r_[REAL_F, at(270)], np.r_[REAL_Y, 3])
    res = f.filter_features(at(0, 90, 0), [0, 0, 1])                         # no class 2 or 3 images; class 1's is wrong
    pc = res.per_class
    assert pc["class"].tolist() == ["a", "b", "c", "d"]
    assert pc.n.tolist() == [2, 1, 0, 0] and pc.kept.tolist() == [1, 0, 0, 0]
    assert pc.keep_rate.iloc[0] == 0.5 and pc.keep_rate.iloc[1] == 0.0 and np.isnan(pc.keep_rate.iloc[2:]).all()
    assert keep_rates([True, False], [1, 1], 3).kept.tolist() == [0, 1, 0]


def test_confidence_threshold_edges():
    p = np.array([[0.5, 0.5], [0.49, 0.51], [1.0, 0.0], [0.0, 1.0]])
    y = np.array([0, 0, 0, 0])
    assert ConfidenceFilter(tau=0.5).filter_proba(p, y).keep.tolist() == [True, False, True, False]   # p = tau is kept
    assert ConfidenceFilter(tau=0.0).filter_proba(p, y).keep.all()
    assert ConfidenceFilter(tau=1.0).filter_proba(p, y).keep.tolist() == [False, False, True, False]
    r = ConfidenceFilter(tau=0.0, max_per_class=2).filter_proba(p, y)
    assert r.keep.tolist() == [True, False, True, False] and r.higher_is_better             # the two most confident
    with pytest.raises(ValueError, match="not logits"): ConfidenceFilter().filter_proba(np.log(p + 1e-3), y)


def test_prototype_quantiles():
    d_real, y_real = np.r_[np.linspace(0, 1, 11), np.linspace(10, 20, 11)], np.repeat([0, 1], 11)
    f = PrototypeFilter(quantile=0.8).fit_distances(d_real, y_real)
    np.testing.assert_allclose(f.thresholds_, [0.8, 18.0])
    r = f.filter_distances([0.8, 0.81, 5.0, 18.0, 18.5], [0, 0, 1, 1, 1])
    assert r.keep.tolist() == [True, False, True, True, False]
    r2 = PrototypeFilter(quantile=None, max_per_class=1).filter_distances([3.0, 1.0, 2.0, 0.5], [0, 0, 1, 1])
    assert r2.keep.tolist() == [False, True, False, True]


def test_bad_input_messages():
    f = CentroidFilter().fit_features(REAL_F, REAL_Y)
    with pytest.raises(ValueError, match=r"CentroidFilter: labels span 0\.\.5 but there are 3 classes"): f.filter_features(at(0, 1), [0, 5])
    with pytest.raises(ValueError, match=r"CentroidFilter: labels span -1\.\.0"): f.filter_features(at(0, 1), [-1, 0])
    with pytest.raises(ValueError, match="features have 5 dims but the centroids were fitted on 2"): f.filter_features(np.ones((2, 5)), [0, 1])
    with pytest.raises(ValueError, match="no features"): f.filter_features(np.ones((0, 2)), [])
    with pytest.raises(TypeError, match="labels must be integers"): f.filter_features(at(0, 1), [0.0, 1.0])
    with pytest.raises(RuntimeError, match="call fit"): CentroidFilter()(np.zeros((1, 4, 4, 3), np.uint8), [0])
    with pytest.raises(ValueError, match=r"no real images of class\(es\) \['c'\]"):
        CentroidFilter(classes=["a", "b", "c"]).fit_features(REAL_F[:4], REAL_Y[:4])
    fx = CentroidFilter(feature_fn=lambda x: x.reshape(len(x), -1).astype(float)).fit(np.zeros((2, 4, 4, 1), np.uint8) + np.array([0, 9], np.uint8)[:, None, None, None], [0, 1])
    with pytest.raises(ValueError, match="no images to filter"): fx(np.zeros((0, 4, 4, 1), np.uint8), [])
    with pytest.raises(ValueError, match="features have 48 dims but the centroids were fitted on 16"): fx(np.zeros((1, 4, 4, 3), np.uint8), [0])
    with pytest.raises(ValueError, match="no images to filter"): apply_filter(np.zeros((0, 4, 4, 1), np.uint8), [], fx)
    with pytest.raises(ValueError, match="labels span 0..2 but there are 2 classes"): apply_filter(np.zeros((2, 4, 4, 1), np.uint8), [0, 2], fx)
    with pytest.raises(ValueError, match="probabilities must lie in"): ConfidenceFilter().filter_proba([[0.7, 0.7]], [0])
    with pytest.raises(ValueError, match="tau must lie in"): ConfidenceFilter(tau=-0.1)
    with pytest.raises(ValueError, match="quantile must lie in"): PrototypeFilter(quantile=1.5)
    with pytest.raises(ValueError, match="expected a boolean keep mask"): FilterResult.from_mask([1, 0], [0, 1])


def test_apply_filter_and_dataset():
    x = np.stack([np.full((4, 4, 1), v, np.uint8) for v in (10, 20, 200, 210, 15)])
    y = np.array([0, 0, 1, 1, 1])
    f = CentroidFilter(feature_fn=lambda im: im.reshape(len(im), -1).mean(1, keepdims=True) * np.array([[1.0, 0.0]]) + [[0.0, 50.0]],
                       normalize=False).fit(x[:4], y[:4])
    kx, ky, res = apply_filter(x, y, f)
    assert res.keep.tolist() == [True, True, True, True, False] and ky.tolist() == [0, 0, 1, 1] and kx.shape == (4, 4, 4, 1)
    ds = ImageDataset(x, y, ["dark", "bright"], name="syn")
    sub, sy, r2 = apply_filter(ds, None, f)
    assert isinstance(sub, ImageDataset) and len(sub) == 4 and sub.classes == ["dark", "bright"]
    np.testing.assert_array_equal(np.asarray(r2), res.keep)
    with pytest.raises(ValueError, match="carries its own labels"): apply_filter(ds, y, f)


def _mislabel(labels, n_classes, frac, seed=0):
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(labels)) < frac
    return np.where(wrong, (labels + rng.integers(1, n_classes, len(labels))) % n_classes, labels), wrong


def test_end_to_end_demo():
    lab = load_dataset("demo", image_size=16, split="train", n_per_class=16)
    pool = load_dataset("demo", image_size=16, split="val", n_per_class=12)
    test = load_dataset("demo", image_size=16, split="test", n_per_class=8)
    aux = train_classifier(lab, arch="resnet10t", epochs=12, bs=32, seed=0, device="cpu")
    y, wrong = _mislabel(pool.labels, pool.n_classes, 0.5)
    for flt in (CentroidFilter(aux, classes=lab.classes), ConfidenceFilter(aux, tau=0.5, classes=lab.classes)):
        res = flt.fit(lab.images, lab.labels)(pool.images, y)
        precision, recall = (~wrong[res.keep]).mean(), res.keep[~wrong].mean()
        assert precision > 0.8 and recall > 0.5, (res.criterion, precision, recall)
        assert len(res.per_class) == 5 and res.per_class.n.sum() == len(pool)
    capped = CentroidFilter(aux, max_per_class=3).fit(lab.images, lab.labels)(pool.images, y)
    assert (capped.per_class.kept <= 3).all() and capped.n_kept > 0
    flt = CentroidFilter(aux, classes=lab.classes).fit(lab.images, lab.labels)
    ut = downstream_utility(lab, (pool.images, y), test, ratios=(1.0,), seeds=(0,), epochs=1, bs=32, device="cpu", filter_fn=flt)
    assert ut.loc[ut.setting == "synthetic", "n_synthetic"].item() == flt(pool.images, y).n_kept
    assert ut.filtered.all()


def test_end_to_end_real_pbc():
    p = shared_data_path("pbc_blood", "pbc_28.npz")
    if p is None: pytest.skip("shared PBC data (pbc_blood/pbc_28.npz) is not here")
    tr = load_dataset("medmnist", root=p, image_size=28, split="train")
    va = load_dataset("medmnist", root=p, image_size=28, split="val")
    rng = np.random.default_rng(0)
    lab = tr.subset(np.concatenate([rng.choice(np.flatnonzero(tr.labels == c), 40, replace=False) for c in range(tr.n_classes)]))
    pool = va.subset(np.concatenate([rng.choice(np.flatnonzero(va.labels == c), 20, replace=False) for c in range(va.n_classes)]))
    aux = train_classifier(lab, arch="resnet10t", epochs=8, bs=64, seed=0, device="cpu")
    y, wrong = _mislabel(pool.labels, pool.n_classes, 0.5, seed=1)
    res = CentroidFilter(aux, classes=lab.classes).fit(lab.images, lab.labels)(pool.images, y)
    precision, recall = (~wrong[res.keep]).mean(), res.keep[~wrong].mean()
    print(f"PBC: kept {res.n_kept}/{len(res)}, correctly labelled among kept {precision:.2f} (pool {(~wrong).mean():.2f}), recall {recall:.2f}")
    assert precision > (~wrong).mean() + 0.2 and recall > 0.4, (precision, recall)

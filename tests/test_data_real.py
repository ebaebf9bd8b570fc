"""improve_nb.data against the real files in ../shared/data (skipped, with the reason, when a file is absent)."""
import numpy as np
import pytest

from improve_nb.data import HAM10000_CLASSES, SPLITS, load_dataset, shared_data_path


def need(*parts):
    p = shared_data_path(*parts)
    if p is None: pytest.skip(f"real data {'/'.join(parts)} not found under $IMPROVE_NB_DATA or ../shared/data")
    return p


def _no_shared(a, b, c):
    return not (a & b) and not (a & c) and not (b & c)


def test_ham10000_raw_layout_lesion_grouped():
    root = need("ham10000_raw")
    ds = {s: load_dataset("ham10000", root, image_size=28, split=s) for s in SPLITS}
    assert sum(len(d) for d in ds.values()) == 280
    assert all(d.meta["skipped"] == [] for d in ds.values())
    assert all(d.classes == HAM10000_CLASSES and d.images.shape[1:] == (28, 28, 3) for d in ds.values())
    lesions = [set(d.meta["samples"].lesion_id) for d in ds.values()]
    assert _no_shared(*lesions), "a lesion appears in two splits"
    # the sample does hold lesions with several images, so the grouping is really exercised
    import pandas as pd
    csv = pd.read_csv(root / "HAM10000_metadata.csv")
    assert csv.lesion_id.duplicated().any()
    ids = [i for d in ds.values() for i in d.ids]
    assert sorted(ids) == sorted(csv.image_id) and len(set(ids)) == 280
    # labels are the CSV's dx in DermaMNIST order
    dx = dict(zip(csv.image_id, csv.dx))
    assert all(HAM10000_CLASSES[y] == dx[i] for d in ds.values() for i, y in zip(d.ids, d.labels))
    # 40 images per class, split roughly 70/10/20 (whole lesions move together)
    counts = np.array([list(d.class_counts().values()) for d in ds.values()])
    assert (counts.sum(0) == 40).all() and (abs(counts[0] - 28) <= 3).all() and (abs(counts[2] - 8) <= 3).all()


def test_ham10000_raw_channels_and_seed():
    root = need("ham10000_raw")
    g = load_dataset("ham10000", root, image_size=16, split="val", channels=1)
    assert g.images.shape[1:] == (16, 16, 1) and g.channels == 1
    assert load_dataset("ham10000", root, image_size=16, split="val", seed=5).ids != g.ids


@pytest.mark.parametrize("size", [28, 64])
def test_ham10000_npz_official_split(size):
    p = need("ham10000", f"ham10000_{size}.npz")
    ds = {s: load_dataset("ham10000", p, image_size=size, split=s) for s in SPLITS}
    assert [len(d) for d in ds.values()] == [7007, 1003, 2005]
    assert list(ds["train"].class_counts().values()) == [228, 359, 769, 80, 779, 4693, 99]
    assert list(ds["test"].class_counts().values()) == [66, 103, 220, 23, 223, 1341, 29]
    assert ds["train"].images.shape[1:] == (size, size, 3) and ds["train"].images.dtype == np.uint8
    assert ds["train"].ids[0].startswith("ISIC_") and ds["train"].meta["class_names"][5] == "melanocytic nevi"
    # the README's documented leak of the official split is visible through the loader's lesion ids
    tr, te = set(ds["train"].meta["samples"].lesion_id), ds["test"].meta["samples"].lesion_id
    assert te.isin(tr).sum() == 693


def test_ham10000_npz_lesion_split():
    p = need("ham10000", "ham10000_28.npz")
    ds = {s: load_dataset("ham10000", p, image_size=28, split=s, split_scheme="lesion") for s in SPLITS}
    assert [list(d.class_counts().values()) for d in ds.values()] == [
        [229, 360, 770, 82, 781, 4695, 100], [33, 52, 110, 11, 110, 669, 15], [65, 102, 219, 22, 222, 1341, 27]]
    assert _no_shared(*[set(d.meta["samples"].lesion_id) for d in ds.values()])
    assert sum(len(d) for d in ds.values()) == 10015


def test_ham10000_npz_resize_and_gray():
    p = need("ham10000", "ham10000_28.npz")
    d = load_dataset("ham10000", p, image_size=32, split="val", channels=1)
    assert d.images.shape == (1003, 32, 32, 1)


def test_ham10000_default_root_uses_shared_npz():
    need("ham10000", "ham10000_28.npz")
    assert len(load_dataset("ham10000", image_size=28, split="val")) == 1003


def test_pbc_npz_via_medmnist():
    p = need("pbc_blood", "pbc_28.npz")
    ds = {s: load_dataset("medmnist", p, image_size=28, split=s) for s in SPLITS}
    assert [len(d) for d in ds.values()] == [11967, 1710, 3415]
    assert ds["train"].classes[:3] == ["basophil", "eosinophil", "erythroblast"] and ds["train"].n_classes == 8
    assert list(ds["test"].class_counts().values()) == [243, 622, 310, 579, 242, 284, 666, 469]
    assert ds["val"].ids[0] == "basophil/BA_100102.jpg"


def test_ham_npz_via_medmnist_keeps_file_class_names():
    p = need("ham10000", "ham10000_28.npz")
    d = load_dataset("medmnist", p, image_size=None, split="val")
    assert d.classes[4] == "melanoma" and d.meta["class_codes"] == HAM10000_CLASSES and d.image_size == 28


def test_pbc_raw_folder():
    p = need("pbc_raw", "PBC_dataset_normal_DIB")
    ds = {s: load_dataset("folder", p, image_size=24, split=s) for s in SPLITS}
    assert ds["train"].classes == ["basophil", "eosinophil", "erythroblast", "ig", "lymphocyte", "monocyte", "neutrophil", "platelet"]
    counts = np.array([list(d.class_counts().values()) for d in ds.values()])
    assert (counts.sum(0) == 25).all() and (counts[2] == 5).all()
    ids = [i for d in ds.values() for i in d.ids]
    assert len(set(ids)) == 200                                   # no file in two splits
    assert all(d.meta["skipped"] == [] for d in ds.values())
    assert ds["train"].images.shape[1:] == (24, 24, 3)

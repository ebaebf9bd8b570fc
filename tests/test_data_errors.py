"""improve_nb.data on generated fixtures: every bad-input path names the file/field and what was expected."""
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from improve_nb.data import available_datasets, load_dataset, read_image_files


def _jpg(p, v=100, hw=(20, 20)):
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*hw, 3), v, np.uint8)).save(p)


@pytest.fixture
def ham(tmp_path):
    rows = []
    for c, dx in enumerate(["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]):
        for i in range(5):
            rows.append((f"HAM_{c}{i // 2}", f"ISIC_{c}{i}", dx))
            _jpg(tmp_path / f"HAM10000_images_part_{1 + i % 2}" / f"ISIC_{c}{i}.jpg", 20 * c)
    pd.DataFrame(rows, columns=["lesion_id", "image_id", "dx"]).to_csv(tmp_path / "HAM10000_metadata.csv", index=False)
    return tmp_path


def test_registry():
    assert {"ham10000", "bone_marrow", "folder", "medmnist", "demo"} <= set(available_datasets())


@pytest.mark.parametrize("name", ["ham10000", "bone_marrow", "folder", "medmnist"])
def test_missing_root_names_path_and_layout(tmp_path, name):
    missing = tmp_path / "no_such_thing"
    with pytest.raises((FileNotFoundError, ValueError)) as e: load_dataset(name, missing)
    msg = str(e.value)
    assert str(missing) in msg and "expected" in msg


@pytest.mark.parametrize("name", ["ham10000", "bone_marrow", "folder", "medmnist", "demo"])
def test_unknown_split(tmp_path, name, ham):
    kw = {"ham10000": dict(root=ham), "demo": {}}.get(name, dict(root=tmp_path))
    if name == "medmnist":
        np.savez(tmp_path / "m.npz", **{f"{s}_images": np.zeros((2, 8, 8), np.uint8) for s in ("train", "val", "test")},
                 **{f"{s}_labels": np.zeros(2, np.int64) for s in ("train", "val", "test")})
        kw = dict(root=tmp_path / "m.npz")
    if name in ("bone_marrow", "folder"):
        _jpg(tmp_path / "tree" / "BLA" / "BLA_00001.jpg"); kw = dict(root=tmp_path / "tree")
    with pytest.raises(ValueError, match="unknown split 'training'"): load_dataset(name, split="training", **kw)


def test_ham_csv_missing_columns_listed(ham):
    df = pd.read_csv(ham / "HAM10000_metadata.csv").drop(columns=["image_id", "lesion_id"])
    df.to_csv(ham / "HAM10000_metadata.csv", index=False)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['lesion_id', 'image_id'\]"): load_dataset("ham10000", ham)


def test_ham_unknown_dx_named(ham):
    df = pd.read_csv(ham / "HAM10000_metadata.csv"); df.loc[0, "dx"] = "melanoma"
    df.to_csv(ham / "HAM10000_metadata.csv", index=False)
    with pytest.raises(ValueError, match=r"unknown dx value\(s\) \['melanoma'\]"): load_dataset("ham10000", ham)


def test_ham_corrupt_and_missing_images_reported_not_dropped(ham):
    (ham / "HAM10000_images_part_1" / "ISIC_00.jpg").write_bytes(b"garbage")
    (ham / "HAM10000_images_part_2" / "ISIC_01.jpg").unlink()
    with pytest.warns(UserWarning):
        d = load_dataset("ham10000", ham, image_size=8, split="all")
    assert len(d) == 33
    assert sorted(p.split("/")[-1] for p, _ in d.meta["skipped"]) == ["ISIC_00.jpg", "ISIC_01.jpg"]
    with pytest.raises((ValueError, FileNotFoundError), match="strict=True"):
        load_dataset("ham10000", ham, image_size=8, split="all", strict=True)


def test_ham_flat_folder(tmp_path, ham):
    flat = tmp_path / "flat"; flat.mkdir()
    for f in ham.rglob("*.jpg"): f.rename(flat / f.name)
    (ham / "HAM10000_metadata.csv").rename(flat / "HAM10000_metadata.csv")
    assert len(load_dataset("ham10000", flat, image_size=8, split="all")) == 35


def test_npz_missing_keys_lists_found(tmp_path):
    np.savez(tmp_path / "x.npz", images=np.zeros((2, 4, 4), np.uint8), labels=np.zeros(2))
    with pytest.raises(KeyError, match=r"lacks key\(s\) \['val_images', 'val_labels'\]; it has \['images', 'labels'\]"):
        load_dataset("medmnist", tmp_path / "x.npz", split="val")
    with pytest.raises(KeyError, match="train_lesion_split"):
        np.savez(tmp_path / "y.npz", **{f"{s}_images": np.zeros((2, 4, 4, 3), np.uint8) for s in ("train", "val", "test")},
                 **{f"{s}_labels": np.zeros(2, np.int64) for s in ("train", "val", "test")})
        load_dataset("ham10000", tmp_path / "y.npz", split_scheme="lesion")


def test_bone_marrow_unknown_code_and_corrupt(tmp_path):
    for c in ("BLA", "LYT"):
        for i in range(10): _jpg(tmp_path / c / "0001-1000" / f"{c}_{i:05d}.jpg", 10 * i)
    (tmp_path / "LYT" / "LYT_99999.jpg").write_bytes(b"\xff\xd8\xff")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = load_dataset("bone_marrow", tmp_path, image_size=8, split="all")
    assert d.class_counts() == {"BLA": 10, "LYT": 10} and len(d.meta["skipped"]) == 1
    with pytest.raises(ValueError, match="LYT_99999.jpg"): load_dataset("bone_marrow", tmp_path, image_size=8, split="all", strict=True)
    (tmp_path / "Blast").mkdir()
    with pytest.raises(ValueError, match=r"unknown class code\(s\) \['Blast'\]"): load_dataset("bone_marrow", tmp_path)


def test_read_image_files_truncated_jpeg(tmp_path):
    _jpg(tmp_path / "a.jpg", hw=(64, 64))
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="1 of 2"):
        x, kept, skipped = read_image_files([tmp_path / "a.jpg", tmp_path / "t.jpg"], 16)
    assert kept.tolist() == [True, False] and "truncated" in skipped[0][1].lower()


def test_ham_root_may_be_the_csv(ham):
    d = load_dataset("ham10000", ham / "HAM10000_metadata.csv", image_size=8, split="all")
    assert len(d) == 35 and set(d.meta["samples"].split) <= {"train", "val", "test"}


def test_demo_oracle_rejects_noise_and_blank_for_every_class():
    from improve_nb.data import DEMO_CLASSES, demo_oracle
    rng = np.random.default_rng(0)
    for size in (28, 32, 64):
        bad = np.concatenate([rng.integers(0, 256, (8, size, size, 3), dtype=np.uint8),
                              np.stack([np.full((size, size, 3), v, np.uint8) for v in (0, 64, 128, 200, 240, 255)])])
        for c in range(len(DEMO_CLASSES)): assert not demo_oracle(bad, c).any(), (size, c)


def test_demo_oracle_accepts_own_class_rejects_others_small_sample():
    from improve_nb.data import DEMO_CLASSES, demo_oracle_confusion
    for size in (28, 48):
        cm = demo_oracle_confusion(n_per_class=20, image_size=size, split="train", seed=7).to_numpy()
        assert np.diag(cm).min() >= 0.9, cm
        assert cm[~np.eye(len(DEMO_CLASSES), dtype=bool)].max() <= 0.1, cm

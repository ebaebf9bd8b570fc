"""tools/device_bundle.py: the HAM10000 npz carried to a lent GPU as lossless WebP must decode to the same bytes."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from improve_nb.data import load_dataset, shared_data_path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("device_bundle", ROOT / "tools" / "device_bundle.py")
db = importlib.util.module_from_spec(spec); spec.loader.exec_module(db)

HAM64 = shared_data_path("ham10000", "ham10000_64.npz")


@pytest.fixture(scope="module")
def small_ham(tmp_path_factory):
    "The first 40 / 10 / 10 images of each split of the shared HAM10000 64 px npz, with every metadata key."
    if HAM64 is None: pytest.skip("../shared/data/ham10000/ham10000_64.npz not found")
    d = np.load(HAM64)
    n = {"train": 40, "val": 10, "test": 10}
    arrays = {k: (d[k][:n[k.split("_")[0]]] if k.split("_")[0] in n else d[k]) for k in d.files}
    p = tmp_path_factory.mktemp("ham") / "ham_small.npz"
    np.savez_compressed(p, **arrays)
    return p, arrays


def test_round_trip_is_exact_and_loads_like_the_original(small_ham, tmp_path):
    src, arrays = small_ham
    enc, dec = tmp_path / "ham.webp.npz", tmp_path / "ham_decoded.npz"
    db.encode(src, enc)
    e = np.load(enc)
    assert not any(k.endswith("_images") for k in e.files)                  # no raw pixels travel
    assert e["train_images__webp"].nbytes < arrays["train_images"].nbytes     # and the WebP bytes are smaller
    db.decode(enc, dec)
    d = np.load(dec)
    assert sorted(d.files) == sorted(arrays)
    for k, v in arrays.items(): np.testing.assert_array_equal(d[k], v, err_msg=k)
    a = load_dataset("ham10000", root=src, split="train", split_scheme="lesion")
    b = load_dataset("ham10000", root=dec, split="train", split_scheme="lesion")
    np.testing.assert_array_equal(a.images, b.images); np.testing.assert_array_equal(a.labels, b.labels)


def test_a_tampered_bundle_is_refused(small_ham, tmp_path):
    src, _ = small_ham
    enc = tmp_path / "ham.webp.npz"
    db.encode(src, enc)
    e = dict(np.load(enc))
    # swap two images' WebP payloads: every payload is still a valid image, but the array is no longer the encoded one
    off, buf = e["val_images__offsets"], e["val_images__webp"]
    a, b = buf[off[0]:off[1]], buf[off[1]:off[2]]
    e["val_images__webp"] = np.concatenate([b, a, buf[off[2]:]])
    e["val_images__offsets"] = off.copy(); e["val_images__offsets"][1] = off[0] + len(b)
    bad = tmp_path / "bad.npz"; np.savez(bad, **e)
    with pytest.raises(ValueError, match=r"bad\.npz: val_images decodes to other bytes"):
        db.decode(bad, tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()


def test_encode_rejects_non_rgb_images(tmp_path):
    p = tmp_path / "gray.npz"; np.savez(p, train_images=np.zeros((2, 8, 8), np.uint8), train_labels=np.zeros(2, np.int64))
    with pytest.raises(ValueError, match=r"gray\.npz: train_images is uint8 \(2, 8, 8\); expected uint8 N x H x W x 3"):
        db.encode(p, tmp_path / "out.npz")

"""A tiny synthetic 3-class image set shared by the prototype and guidance tests (seconds to learn on a CPU)."""
import numpy as np

from improve_nb.data import ImageDataset


def toy_dataset(n: int, size: int = 16, seed: int = 0, split: str = "train") -> ImageDataset:
    "Three classes: a bright centre blob, horizontal stripes, vertical stripes (noisy, random brightness and tint)."
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    pats = [np.exp(-((yy - .5) ** 2 + (xx - .5) ** 2) / 0.05), (np.sin(yy * 12) > 0) * 1.0, (np.sin(xx * 12) > 0) * 1.0]
    labels = np.arange(n) % 3
    imgs = np.stack([pats[c] * r.uniform(.6, 1) + r.normal(0, .15, (size, size)) for c in labels])
    imgs = np.repeat(imgs[..., None], 3, -1) * r.uniform(.7, 1, (n, 1, 1, 3))
    return ImageDataset((imgs.clip(0, 1) * 255).astype(np.uint8), labels, ["blob", "hstripes", "vstripes"], split, name="toy")

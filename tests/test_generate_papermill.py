"""Integration tests of the main job, nbs/05_generate.ipynb, run the way users run it: through papermill.

The notebook's own default run is the README's main job (minutes on a 2-core CPU); these tests run the same pipeline
with tiny parameters, and check what it writes and that bad parameters fail with clear messages.
"""
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import papermill as pm
import pytest
from PIL import Image

from improve_nb.data import HAM10000_CLASSES, load_dataset, shared_data_path
from improve_nb.diffusion import DenoiserPipeline

NB = Path(__file__).resolve().parent.parent / "nbs" / "05_generate.ipynb"
TINY = dict(dataset="demo", image_size=16, n_train_per_class=24, preset="tiny", train_steps=12, batch_size=16,
            proto_backbone="resnet10t", proto_epochs=1, expert_epochs=1, n_per_class=3, steps=4, seed=0,
            device="cpu", explorer=False, ckpt_every=4, guide_views="d4", guide_n_views=2)   # views: the guide's extension, end to end
VARIANTS = ["baseline", "proto_cond", "proto_guide", "improve"]


def run(tmp_path, **params):
    out = tmp_path / "out"
    pm.execute_notebook(str(NB), str(tmp_path / "run.ipynb"), parameters={**TINY, "out_dir": str(out), **params},
                        cwd=str(NB.parent), kernel_name="python3", progress_bar=False)
    return out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("generate")
    return run(tmp)


def test_writes_metrics_for_every_variant(tiny_run):
    m = json.loads((tiny_run / "metrics.json").read_text())
    assert m["params"]["dataset"] == "demo" and m["params"]["train_steps"] == 12
    assert m["params"]["guide_objective"] == "distance"                 # the default, recorded
    assert m["params"]["prediction_type"] == "v_prediction"             # the main job's default target (bench/RESULTS.md, run 6)
    assert m["params"]["guide_window"] == [0.0, 1.0] and m["params"]["guide_scale"] == 0.01 and m["params"]["guide_schedule"] == "alpha"   # ... and guide (results/improve_demo_v)
    assert m["params"]["cfg_scale"] == 1.0                              # session 19's light guide at CFG 1 (results/improve_pbc, "CFG sweep")
    assert m["params"]["guide_views"] == "d4" and m["params"]["guide_n_views"] == 2
    assert m["params"]["proto_align"] == 0.005 and m["params"]["proto_cond"] is False   # the defaults: an aligned IMPROVE denoiser ...
    assert m["prototype_alignment"]["steps_logged"] == 6                # ... in the second half of its 12 steps (proto_align_start 0.5)
    assert m["prototype_alignment"]["last_50"]["energy"] > 0
    assert sorted(m["variants"]) == sorted(VARIANTS)
    for v in VARIANTS:
        r = m["variants"][v]
        assert 0.0 <= r["expert_accuracy"] <= 1.0
        assert 0.0 <= r["oracle_pass_rate"] <= 1.0          # demo data: the rule oracle judges too
        assert r["n"] == 5 * 3
    assert 0.0 <= m["real_test"]["expert_accuracy"] <= 1.0   # the ceiling
    assert 0.0 <= m["real_test"]["oracle_pass_rate"] <= 1.0


def test_records_every_parameter(tiny_run):
    "metrics.json names every parameter of the notebook's `parameters` cell, with the value the run used."
    nb = nbformat.read(NB, as_version=4)
    src = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    names = re.findall(r"^(\w+)\s*=", src, re.M)
    assert len(names) > 40
    rec = json.loads((tiny_run / "metrics.json").read_text())["params"]
    assert [n for n in names if n not in rec] == []
    for k, v in TINY.items(): assert rec[k] == v, (k, rec[k], v)
    assert rec["expert_epochs"] == 1 and rec["checkpoint"] is None and rec["out_dir"].endswith("out")


def test_writes_images_and_grids(tiny_run):
    for v in VARIANTS:
        pngs = sorted((tiny_run / "samples" / v).rglob("*.png"))
        assert len(pngs) == 5 * 3, (v, len(pngs))
        a = np.asarray(Image.open(pngs[0]))
        assert a.shape[:2] == (16, 16) and a.dtype == np.uint8
        assert (tiny_run / "grids" / f"{v}.png").exists()
    assert (tiny_run / "comparison.csv").exists()


def test_saves_reloadable_models(tiny_run, tmp_path):
    # the trained pipelines are saved, and the job can load one instead of training
    assert (tiny_run / "baseline" / "pipeline").exists() and (tiny_run / "improve" / "pipeline").exists()
    out = run(tmp_path, checkpoint=str(tiny_run / "baseline" / "pipeline"),
              improve_checkpoint=str(tiny_run / "improve" / "pipeline"),
              proto_checkpoint=str(tiny_run / "prototypes"), train_steps=1, explorer=True)   # the ipywidgets explorer's cell runs too
    m = json.loads((out / "metrics.json").read_text())
    assert m["baseline_source"] == str(tiny_run / "baseline" / "pipeline")
    for name in ("baseline", "improve"):                # both denoisers trained with the same, v target
        assert DenoiserPipeline.from_pretrained(tiny_run / name / "pipeline").prediction_type == "v_prediction", name


def test_killed_run_resumes_exactly(tiny_run, tmp_path):
    # a run killed mid-training keeps its checkpoints; re-running with resume=True continues from the last one and
    # ends with the same model as an uninterrupted run (same samples, byte for byte)
    import shutil
    ckpts = sorted((tiny_run / "baseline" / "checkpoints").iterdir())
    # ckpt_every=4 of 12 steps, the last two kept, plus step 6 (proto_align_start 0.5), where the IMPROVE denoiser started
    assert [c.name for c in ckpts] == ["checkpoint-00000006", "checkpoint-00000008", "checkpoint-00000012"], ckpts
    assert json.loads((tiny_run / "metrics.json").read_text())["improve_shared_from_step"] == 6
    ckpts = ckpts[1:]
    out = tmp_path / "out"
    shutil.copytree(ckpts[0], out / "baseline" / "checkpoints" / ckpts[0].name)   # as if killed after step 8
    shutil.copytree(tiny_run / "prototypes", out / "prototypes")                      # ... with the PrototypeNet finished
    shutil.copy(tiny_run / "prototypes_report.json", out / "prototypes_report.json")
    weights = next((out / "prototypes").glob("*.safetensors"))
    stamp = weights.stat().st_mtime_ns
    run(tmp_path, resume=True)
    m = json.loads((out / "metrics.json").read_text())
    assert m["params"]["resume"] is True
    assert m["prototype_net"]["resumed_from"] == str(out / "prototypes")                 # loaded, not trained again
    assert weights.stat().st_mtime_ns == stamp
    assert m["prototype_net"]["epochs"] == json.loads((tiny_run / "metrics.json").read_text())["prototype_net"]["epochs"]
    # the resumed baseline never passed step 6 again, so this run trained its IMPROVE denoiser from step 0: the same model
    # (same samples) as tiny_run's, which started from the baseline's step-6 checkpoint (share_plain_start)
    assert m["improve_shared_from_step"] is None
    for v in ("baseline", "improve"):
        assert (out / "grids" / f"{v}.png").read_bytes() == (tiny_run / "grids" / f"{v}.png").read_bytes(), v


@pytest.mark.parametrize("params, message", [
    (dict(dataset="imagenet"), "unknown dataset 'imagenet'"),
    (dict(n_per_class=0), "n_per_class must be a positive integer"),
    (dict(guide_scale=-1.0), "guide_scale must be >= 0"),
    (dict(ckpt_every=-1), "ckpt_every must be an integer >= 0"),
    (dict(guide_objective="ce"), "guide_objective must be one of ('distance', 'softmax')"),
    (dict(guide_schedule="cosine"), "guide_schedule must be one of ('constant', 'sigma', 'alpha', 'ramp')"),
    (dict(guide_views="crops"), "guide_views must be None or one of ('d4', 'random')"),
    (dict(guide_n_views=9), "guide_n_views must be a positive integer (at most 8 with guide_views='d4')"),
    (dict(proto_align=-0.1), "proto_align must be a finite number >= 0"),
    (dict(proto_align_start=1.0), "proto_align_start must be a fraction in [0, 1)"),
    (dict(prediction_type="sample"), "prediction_type must be 'epsilon' or 'v_prediction'"),
    (dict(precision="fp8"), "precision must be 'no', 'bf16' or 'fp16'"),
])
def test_bad_parameters_fail_clearly(tmp_path, params, message):
    with pytest.raises(pm.PapermillExecutionError) as e:
        run(tmp_path, **params)
    assert message in str(e.value)


def test_runs_on_real_ham10000_lesion_split(tmp_path):
    """The README's real-data command, `-p dataset ham10000 -p data_root .../ham10000_64.npz` with the lesion-grouped split,
    at tiny parameters: the same pipeline trains, samples and judges on real dermoscopy images."""
    npz = shared_data_path("ham10000", "ham10000_64.npz")
    if npz is None: pytest.skip("real data ham10000/ham10000_64.npz not found under $IMPROVE_NB_DATA or ../shared/data")
    out = run(tmp_path, dataset="ham10000", data_root=str(npz), dataset_kwargs={"split_scheme": "lesion"},
              n_per_class=2, guide_views=None)               # the plain guide here: the views path runs in tiny_run
    m = json.loads((out / "metrics.json").read_text())
    assert m["params"]["dataset"] == "ham10000" and m["params"]["dataset_kwargs"] == {"split_scheme": "lesion"}
    assert m["classes"] == list(HAM10000_CLASSES)
    assert m["n_train"] == len(load_dataset("ham10000", root=npz, image_size=16, split="train", split_scheme="lesion"))
    assert m["n_test"] == len(load_dataset("ham10000", root=npz, image_size=16, split="test", split_scheme="lesion"))
    assert sorted(m["variants"]) == sorted(VARIANTS)
    for v in VARIANTS:
        r = m["variants"][v]
        assert r["n"] == len(HAM10000_CLASSES) * 2 and 0.0 <= r["expert_accuracy"] <= 1.0
        assert "oracle_pass_rate" not in r                   # the rule oracle knows only the demo cells
        pngs = sorted((out / "samples" / v).rglob("*.png"))
        assert len(pngs) == len(HAM10000_CLASSES) * 2 and np.asarray(Image.open(pngs[0])).shape == (16, 16, 3)
    assert "oracle_pass_rate" not in m["real_test"] and 0.0 < m["real_test"]["expert_accuracy"] <= 1.0

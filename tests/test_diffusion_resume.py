"""A real kill: train in a subprocess, SIGKILL it after a checkpoint, resume, and compare with an uninterrupted run."""
import os, signal, subprocess, sys, textwrap, time
from pathlib import Path

import torch
from safetensors.torch import load_file

from improve_nb.core import load_json
from improve_nb.diffusion import list_checkpoints

SCRIPT = textwrap.dedent("""
    import sys, time, numpy as np, torch
    from fastai.callback.core import Callback
    from improve_nb.data import ImageDataset
    from improve_nb.diffusion import train_denoiser
    torch.set_num_threads(1)
    out, resume, delay = sys.argv[1], sys.argv[2] == "1", float(sys.argv[3])
    class Slow(Callback):   # makes the run last long enough to be killed between checkpoints
        def after_batch(self): time.sleep(delay)
    r = np.random.default_rng(0); y = np.arange(48) % 3
    x = r.integers(0, 255, (48, 8, 8, 1), dtype=np.uint8)
    ds = ImageDataset(x, y, ["a", "b", "c"], name="toy")
    train_denoiser(ds, "tiny", steps=24, bs=8, lr=2e-3, out_dir=out, ckpt_every=6, resume=resume, device="cpu",
                   seed=5, num_train_timesteps=100, progress=False, cbs=[Slow()], keep_checkpoints=10)
    print("DONE", flush=True)
""")


def _run(out, resume, delay=0.0, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), "1" if resume else "0", str(delay)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    killed, ref = tmp_path / "killed", tmp_path / "ref"
    p = _run(killed, resume=False, delay=0.3)
    ckdir = killed / "checkpoints"
    t0 = time.time()
    while not any(c.name >= "checkpoint-00000012" for c in list_checkpoints(ckdir)):   # wait for step 12
        assert p.poll() is None, f"training ended before it could be killed:\n{p.stdout.read()}"
        assert time.time() - t0 < 300, "no checkpoint within 300 s"
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL); p.wait()
    assert p.returncode == -signal.SIGKILL
    done = [load_json(c / "state.json")["step"] for c in list_checkpoints(ckdir)]
    assert 12 <= max(done) < 24, done                      # killed mid-run, after at least two checkpoints
    assert not (killed / "pipeline").exists()              # the run did not finish
    last = max(done)

    r = _run(killed, resume=True); out_r, _ = r.communicate(timeout=600)
    assert r.returncode == 0 and "DONE" in out_r, out_r
    steps = [load_json(c / "state.json")["step"] for c in list_checkpoints(ckdir)]
    assert steps[-1] == 24 and all(s in steps for s in range(last + 6, 25, 6)), steps   # continued from `last`

    u = _run(ref, resume=False); out_u, _ = u.communicate(timeout=600)
    assert u.returncode == 0, out_u
    a, b = load_file(ref / "checkpoints" / "checkpoint-00000024" / "model.safetensors"), load_file(ckdir / "checkpoint-00000024" / "model.safetensors")
    assert a.keys() == b.keys()
    # resuming exactly at a checkpoint boundary on CPU reproduces the uninterrupted run bit for bit
    for k in a: assert torch.equal(a[k], b[k]), k
    ea, eb = load_file(ref / "checkpoints" / "checkpoint-00000024" / "ema.safetensors"), load_file(ckdir / "checkpoint-00000024" / "ema.safetensors")
    for k in ea: assert torch.equal(ea[k], eb[k]), k
    oa, ob = load_file(ref / "checkpoints" / "checkpoint-00000024" / "optimizer.safetensors"), load_file(ckdir / "checkpoint-00000024" / "optimizer.safetensors")
    for k in oa: assert torch.equal(oa[k], ob[k]), k
    assert (killed / "pipeline" / "pipeline.json").exists()
    # the pipeline records where this process took over, so a report of its wall time can say which steps it covers
    assert load_json(killed / "pipeline" / "pipeline.json")["info"]["resumed_from_step"] == last
    assert load_json(ref / "pipeline" / "pipeline.json")["info"]["resumed_from_step"] == 0


def test_no_partial_checkpoint_is_listed(tmp_path):
    (tmp_path / ".tmp-checkpoint-00000006-abc").mkdir()        # what a kill during a write leaves behind
    (tmp_path / "checkpoint-00000003").mkdir()                 # a folder without state.json is not complete
    assert list_checkpoints(tmp_path) == []

"""Two CPU processes under `accelerate launch` (gloo): both ranks train, gradients are synchronised, only rank 0 writes."""
import json, os, shutil, subprocess, sys, textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from improve_nb.core import load_json
from improve_nb.diffusion import list_checkpoints

SCRIPT = textwrap.dedent("""
    import json, os, sys, numpy as np, torch
    from safetensors.torch import save_file
    from fastai.torch_core import num_distrib, rank_distrib
    from improve_nb.data import ImageDataset
    from improve_nb.diffusion import train_denoiser
    torch.set_num_threads(1)
    out = sys.argv[1]
    r = np.random.default_rng(0); y = np.arange(40) % 2
    ds = ImageDataset(r.integers(0, 255, (40, 8, 8, 1), dtype=np.uint8), y, ["a", "b"], name="toy")
    pipe = train_denoiser(ds, "tiny", steps=8, bs=4, lr=2e-3, out_dir=out, ckpt_every=4, device="cpu", seed=1,
                          num_train_timesteps=100, progress=False)
    rank = rank_distrib()
    first_batch = pipe.learn.dls.train.get_idxs()[:4]
    save_file({k: v.contiguous() for k, v in pipe.model.state_dict().items()}, f"{out}/rank{rank}.safetensors")
    json.dump(dict(rank=rank, world=num_distrib(), steps=len(pipe.learn.recorder.losses), first_batch=first_batch,
                   ddp=type(pipe.learn.cbs.filter(lambda c: type(c).__name__ == "AccelerateTrainer")[0]).__name__),
              open(f"{out}/rank{rank}.json", "w"))
""")


@pytest.mark.skipif(shutil.which("accelerate") is None and not (Path(sys.executable).parent / "accelerate").exists(),
                    reason="accelerate CLI not installed")
def test_two_cpu_processes(tmp_path):
    script = tmp_path / "train.py"; script.write_text(SCRIPT)
    out = tmp_path / "run"; out.mkdir()
    exe = shutil.which("accelerate") or str(Path(sys.executable).parent / "accelerate")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    # `--multi_gpu` selects accelerate's torch.distributed launcher (`--cpu` alone would expect mpirun); on a host
    # without CUDA, train_denoiser's Accelerator(cpu=True) then runs MULTI_CPU over gloo.
    r = subprocess.run([exe, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
                        "--dynamo_backend", "no", "--main_process_port", "29533", str(script), str(out)],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    info = [json.loads((out / f"rank{i}.json").read_text()) for i in (0, 1)]
    assert [i["rank"] for i in info] == [0, 1] and all(i["world"] == 2 for i in info)
    assert all(i["steps"] == 8 and i["ddp"] == "AccelerateTrainer" for i in info)
    assert info[0]["first_batch"] != info[1]["first_batch"]          # each rank saw its own shard of the batch
    a, b = load_file(out / "rank0.safetensors"), load_file(out / "rank1.safetensors")
    for k in a: assert torch.equal(a[k], b[k]), f"{k} differs across ranks: gradients were not synchronised"
    ck = list_checkpoints(out / "checkpoints")
    assert [c.name for c in ck] == ["checkpoint-00000004", "checkpoint-00000008"]
    assert {load_json(c / "state.json")["written_by_rank"] for c in ck} == {0}
    assert load_json(ck[-1] / "state.json")["args"]["world_size"] == 2

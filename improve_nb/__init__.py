"""Medically plausible synthetic medical images with diffusion models: IMPROVE prototype guidance, HistoDiffusion, textual inversion, and the evaluation that proves it.

Modules:

- `improve_nb.diffusion`: The class-conditional denoiser every method in the library trains and samples from: a diffusers `UNet2DModel` with a class embedding (plus a null class for classifier-free guidance), diffusers noise schedules and samplers, a fastai `Learner` training loop with EMA, checkpoints that survive a kill, accelerate for multi-process runs, a sampler with pluggable guides, and a pipeline that saves, loads and goes to the Hub.
- `improve_nb.guidance`: `PrototypeGuide`: steer a diffusion sampler towards the target class's prototype in a `PrototypeNet`'s embedding space, a pluggable correction to the noise prediction for `improve_nb.diffusion.sample`.
- `improve_nb.prototypes`: Class prototypes for IMPROVE: a timm-backbone `PrototypeNet` trained with fastai on real images (distance-based cross-entropy + compactness, with noise augmentation so it can judge the x̂0 estimates of a sampler), and the prototype-initialised class-embedding table of a diffusers UNet."""

__version__ = "0.0.1"

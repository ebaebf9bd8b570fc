"""Medically plausible synthetic medical images with diffusion models: IMPROVE prototype guidance, HistoDiffusion, textual inversion, and the evaluation that proves it.

Modules:

- `improve_nb.diffusion`: The class-conditional denoiser every method in the library trains and samples from: a diffusers `UNet2DModel` with a class embedding (plus a null class for classifier-free guidance) or none (an unconditional denoiser, for latent pre-training without labels), trained on uint8 images or on float latents, diffusers noise schedules and samplers, a fastai `Learner` training loop with EMA, checkpoints that survive a kill, accelerate for multi-process runs, a sampler with pluggable guides, and a pipeline that saves, loads and goes to the Hub.
- `improve_nb.filtering`: Selecting the synthetic images worth keeping: HistoDiffusion's selective filtering (nearest real class centroid in a classifier's feature space), a confidence threshold, and a prototype-distance criterion, behind one small API that reports what it kept per class and plugs into `improve_nb.evaluation.downstream_utility`.
- `improve_nb.guidance`: `PrototypeGuide` (IMPROVE: steer a diffusion sampler towards the target class's prototype in a `PrototypeNet`'s embedding space) and `ClassifierGuide` with its `NoisyClassifier` (HistoDiffusion: classifier guidance by a classifier of noisy pixels or latents): pluggable corrections to the noise prediction for `improve_nb.diffusion.sample`.
- `improve_nb.latent`: HistoDiffusion's latent diffusion: a small diffusers `AutoencoderKL` trained with fastai (with a latent scale factor stored in its config), data sets encoded to latents, an unconditional latent denoiser pre-trained on a label-free pool of data sets, a pipeline that samples latents and decodes them, and the noisy latent classifier that steers it.
- `improve_nb.prototypes`: Class prototypes for IMPROVE: a timm-backbone `PrototypeNet` trained with fastai on real images (distance-based cross-entropy + compactness, with noise augmentation so it can judge the x̂0 estimates of a sampler), and the prototype-initialised class-embedding table of a diffusers UNet."""

__version__ = "0.0.1"

"""Text-to-image over exported components on any backend: tokenizer → text encoder (embeddings
cached per prompt) → UNet loop (classifier-free guidance batched in one call) → scheduler →
VAE decoder (optionally tiled) → uint8 images. Same seed ⇒ same initial noise on every backend.

When the UNet's runner can keep tensors on its GPU (`DeviceRunner.io_device()`), the latents,
the guidance arithmetic and the scheduler step stay there for the whole loop: one copy in, one
copy out. Otherwise (CPU backends) the loop runs on numpy/CPU torch exactly as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from edgegen.errors import NumericalError
from edgegen.runtime.backends.base import DeviceRunner, Runner
from edgegen.types import Component


@dataclass(frozen=True)
class PipelineInfo:
    """Facts about the model that a runtime needs besides the graphs (stored with the export)."""

    vae_scale_factor: int
    latent_channels: int
    max_length: int
    class_names: tuple[str, ...] = ()
    prompt_template: str = ""
    conditioning: dict | None = None  # edgegen.conditions.Conditioning.to_dict() of the training card
    family: str = "sd"  # "sd" | "gan"
    gan: dict | None = None  # the GanConfig of a GAN export
    native_resolution: int | None = None  # the side the model was trained at (UNet sample size × VAE factor)

    def vocabulary(self):
        from edgegen.conditions import Conditioning

        return Conditioning.from_dict(self.conditioning, self.class_names, self.prompt_template)


@dataclass
class Timings:
    text_encoder_s: float = 0.0
    unet_steps_s: list[float] = field(default_factory=list)
    vae_decoder_s: float = 0.0
    total_s: float = 0.0
    generator_s: float = 0.0  # GAN: the one forward pass


@dataclass
class Generated:
    images: np.ndarray  # uint8 [N, H, W, 3]
    timings: Timings


def initial_latents(seeds: list[int], shape: tuple[int, int, int]) -> torch.Tensor:
    """One CPU generator per image: image i depends only on its own seed, whatever the batch."""
    return torch.cat([torch.randn((1, *shape), generator=torch.Generator().manual_seed(s)) for s in seeds])


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[-1, 1] NCHW float → uint8 NHWC."""
    return np.clip((images.transpose(0, 2, 3, 1) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def _check_finite(array, component: Component, step: int | None = None) -> None:
    if isinstance(array, torch.Tensor):
        finite = bool(torch.isfinite(array).all())  # on the tensor's device: one scalar comes back
    else:
        finite = bool(np.isfinite(array).all())
    if not finite:
        where = f" at step {step}" if step is not None else ""
        raise NumericalError(
            f"NaN/Inf in the {component.value} output{where}",
            hint="try fp32 for this component (fp16 overflow) or another backend",
        )


class Text2ImagePipeline:
    family = "sd"

    def __init__(
        self,
        runners: dict[Component, Runner],
        tokenizer,
        scheduler,
        info: PipelineInfo,
        low_memory: bool = False,
        device_loop: bool = True,
    ) -> None:
        self.runners, self.tokenizer, self.scheduler, self.info, self.low_memory = (
            runners,
            tokenizer,
            scheduler,
            info,
            low_memory,
        )
        self.device_loop = device_loop  # False: always the host loop (for comparisons)
        self._emb_cache: dict[str, np.ndarray] = {}

    def loop_device(self) -> str | None:
        """Where the UNet loop runs: the UNet runner's GPU when it can keep tensors there."""
        unet = self.runners[Component.UNET]
        if not self.device_loop or not isinstance(unet, DeviceRunner):
            return None
        return unet.load().io_device()

    def _run(self, component: Component, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
        runner = self.runners[component]
        out = runner.run(inputs)
        return next(iter(out.values())), runner.last_inference_s

    def _release_if_low_memory(self, component: Component) -> None:
        if self.low_memory:
            self.runners[component].release()

    def encode(self, prompts: list[str]) -> tuple[np.ndarray, float]:
        """Embeddings per prompt; a prompt already seen is not encoded again."""
        todo = [p for p in dict.fromkeys(prompts) if p not in self._emb_cache]
        seconds = 0.0
        if todo:
            ids = self.tokenizer(
                todo, padding="max_length", max_length=self.info.max_length, truncation=True, return_tensors="np"
            ).input_ids
            emb, seconds = self._run(Component.TEXT_ENCODER, {"input_ids": ids.astype(np.int64)})
            _check_finite(emb, Component.TEXT_ENCODER)
            self._emb_cache.update(zip(todo, emb, strict=True))
            self._release_if_low_memory(Component.TEXT_ENCODER)
        return np.stack([self._emb_cache[p] for p in prompts]), seconds

    def __call__(
        self,
        prompts: list[str],
        seeds: list[int],
        steps: int,
        guidance_scale: float,
        size: int,
        negative_prompt: str = "",
        tiled_decode: bool = False,
        on_step: Callable[[int, int], None] | None = None,
    ) -> Generated:
        start = time.perf_counter()
        timings = Timings()
        guided = guidance_scale > 1.0
        # The prompts and the negative prompt in one text-encoder call (loaded once, even in low memory).
        both, timings.text_encoder_s = self.encode(prompts + ([negative_prompt] if guided else []))
        cond = both[: len(prompts)]
        if guided:
            uncond = np.repeat(both[-1:], len(prompts), axis=0)
            context = np.concatenate([uncond, cond]).astype(np.float32)
        else:
            context = cond.astype(np.float32)
        side = size // self.info.vae_scale_factor
        latents = initial_latents(seeds, (self.info.latent_channels, side, side))
        device = self.loop_device()
        loop = self._denoise_on_device if device else self._denoise_on_host
        latents = loop(latents, context, steps, guided, guidance_scale, timings, on_step, device)
        self._release_if_low_memory(Component.UNET)
        lat = latents.numpy().astype(np.float32)
        if tiled_decode:
            t0 = time.perf_counter()
            images = self._decode_tiled(lat)
            timings.vae_decoder_s = time.perf_counter() - t0
        else:
            images, timings.vae_decoder_s = self._run(Component.VAE_DECODER, {"latent": lat})
        _check_finite(images, Component.VAE_DECODER)
        self._release_if_low_memory(Component.VAE_DECODER)
        timings.total_s = time.perf_counter() - start
        return Generated(to_uint8(images), timings)

    def _denoise_on_host(self, latents, context, steps, guided, guidance_scale, timings, on_step, _device):
        self.scheduler.set_timesteps(steps)
        latents = latents * self.scheduler.init_noise_sigma
        for i, t in enumerate(self.scheduler.timesteps):
            model_in = torch.cat([latents, latents]) if guided else latents
            model_in = self.scheduler.scale_model_input(model_in, t)
            noise, seconds = self._unet_host(model_in.numpy().astype(np.float32), float(t), context, guided)
            timings.unet_steps_s.append(seconds)
            _check_finite(noise, Component.UNET, i)
            noise_t = torch.from_numpy(noise)
            if guided:
                n_uncond, n_cond = noise_t.chunk(2)
                noise_t = n_uncond + guidance_scale * (n_cond - n_uncond)
            latents = self.scheduler.step(noise_t, t, latents).prev_sample
            _check_finite(latents, Component.UNET, i)
            if on_step:
                on_step(i + 1, steps)
        return latents

    def _unet_host(self, sample: np.ndarray, t: float, context: np.ndarray, guided: bool) -> tuple[np.ndarray, float]:
        """One UNet step. In low memory, the uncond and cond halves of a guided batch run one after
        the other: half the activations (at 512 px SD 1.5's attention maps alone are ~1 GB per
        image), the same numbers per image."""
        if not (guided and self.low_memory):
            timestep = np.full((sample.shape[0],), t, dtype=np.float32)
            return self._run(Component.UNET, {"sample": sample, "timestep": timestep, "encoder_hidden_states": context})
        half = sample.shape[0] // 2
        outs, seconds = [], 0.0
        for rows in (slice(0, half), slice(half, None)):
            timestep = np.full((half,), t, dtype=np.float32)
            out, s = self._run(
                Component.UNET,
                {
                    "sample": np.ascontiguousarray(sample[rows]),
                    "timestep": timestep,
                    "encoder_hidden_states": np.ascontiguousarray(context[rows]),
                },
            )
            outs.append(out)
            seconds += s
        return np.concatenate(outs), seconds

    @torch.inference_mode()
    def _denoise_on_device(self, latents, context, steps, guided, guidance_scale, timings, on_step, device):
        unet = self.runners[Component.UNET]
        self.scheduler.set_timesteps(steps, device=device)
        latents = latents.to(device) * self.scheduler.init_noise_sigma
        context = torch.from_numpy(context).to(device)
        for i, t in enumerate(self.scheduler.timesteps):
            model_in = torch.cat([latents, latents]) if guided else latents
            model_in = self.scheduler.scale_model_input(model_in, t).float().contiguous()
            timestep = torch.full((model_in.shape[0],), float(t), dtype=torch.float32, device=device)
            out = unet.run_device({"sample": model_in, "timestep": timestep, "encoder_hidden_states": context})
            noise = next(iter(out.values())).float()
            timings.unet_steps_s.append(unet.last_inference_s)
            _check_finite(noise, Component.UNET, i)
            if guided:
                n_uncond, n_cond = noise.chunk(2)
                noise = n_uncond + guidance_scale * (n_cond - n_uncond)
            else:
                noise = noise.clone()  # the runner reuses its output buffer on the next call
            latents = self.scheduler.step(noise, t, latents).prev_sample
            _check_finite(latents, Component.UNET, i)
            if on_step:
                on_step(i + 1, steps)
        return latents.cpu()

    def generate(self, items, settings) -> Generated:
        """Planned images (edgegen.runtime.generate.PlannedImage) under GenerateSettings."""
        return self(
            [it.prompt for it in items],
            [it.seed for it in items],
            settings.steps,
            settings.guidance_scale,
            settings.size,
            settings.negative_prompt,
            settings.tiled_decode,
        )

    def tags(self, settings) -> dict:
        """What the settings mean for this family, for provenance tags and manifests."""
        return {
            "steps": settings.steps,
            "guidance_scale": settings.guidance_scale,
            "scheduler": settings.scheduler,
            "size": settings.size,
        }

    def _decode_tiled(self, latent: np.ndarray) -> np.ndarray:
        from edgegen.runtime.tiling import decode_tiled

        return decode_tiled(
            lambda z: self._run(Component.VAE_DECODER, {"latent": z})[0], latent, self.info.vae_scale_factor
        )

    def release(self) -> None:
        for runner in self.runners.values():
            runner.release()

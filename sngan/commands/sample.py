"""`sngan sample`: images from a checkpoint's generator (parametrizations folded), as a grid, a latent
interpolation, a folder of PNGs or an .npz array.

    out=FILE.png  mode=grid    one grid; conditional models: one row per class
    out=FILE.png  mode=interp  rows: pairs of seeded endpoints; columns: interp.steps points between them
    out=DIR                    DIR/000000.png ... one PNG per image (1 channel or RGB, as the model makes)
    out=FILE.npz               images: uint8 (N, H, W, C), C as the model makes (1: grayscale, 3: RGB);
                               conditional models also labels: int64 (N,)

Everything is written under a temporary name in the destination's folder and renamed into place once
complete, so a failed or interrupted run leaves no partial output.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import OmegaConf
from PIL import Image
from torchvision.utils import save_image
from tqdm import tqdm

from ..build import generator_from_state
from ..data.images import to_uint8
from ..device import pick_device
from ..errors import ConfigError
from ..fsutil import first_missing, writing
from ..gan.generate import Latents, to_grid
from ..options import parse
from ..run.checkpoints import load_checkpoint, resolve_checkpoint

MODES = ("grid", "interp")
METHODS = ("slerp", "lerp")
NOISE_KEY = -2        # streams.NOISE key of `sngan sample` (sngan.data.streams)
INTERP_KEY = 1        # sub-key of the interpolation endpoints
OUT_FIX = "pass out=FILE.png (a grid), out=DIR (one PNG per image) or out=FILE.npz (a uint8 array)"


# ---- what to draw -----------------------------------------------------------------------------------

@torch.no_grad()
def forward(G, z: torch.Tensor, y, batch_size: int, device) -> torch.Tensor:
    """G(z, y) in batches of batch_size, on the CPU."""
    parts = []
    for i in range(0, len(z), batch_size):
        parts.append(G(z[i:i + batch_size].to(device), None if y is None else y[i:i + batch_size].to(device)).cpu())
    return torch.cat(parts)


def grid_inputs(latents: Latents, n: int) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
    """(z, y, images per row) of a grid of about n images. Unconditional: n images, square as far as n
    allows. Conditional: one row per class (the first min(classes, n)), ceil(n / rows) images per row,
    column j the same noise in every row."""
    if not latents.num_classes:
        return latents.noise(n, "cpu", NOISE_KEY), None, None
    rows = min(latents.num_classes, n)
    cols = math.ceil(n / rows)
    z = latents.noise(cols, "cpu", NOISE_KEY).repeat(rows, 1)
    y = torch.arange(rows).repeat_interleave(cols)
    return z, y, cols


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """(rows, steps, z_dim): from each row of z0 to the same row of z1 at `steps` equally spaced t in [0, 1].
    slerp (White 2016): sin((1-t)w)/sin(w) z0 + sin(tw)/sin(w) z1, w the angle between them, which keeps
    Gaussian latents at a typical norm; lerp: the straight line z0 + t (z1 - z0)."""
    t = torch.linspace(0, 1, steps, dtype=z0.dtype).view(1, steps, 1)
    a, b = z0.unsqueeze(1), z1.unsqueeze(1)
    if method == "lerp":
        return a + t * (b - a)
    cos = (torch.nn.functional.normalize(a, dim=-1) * torch.nn.functional.normalize(b, dim=-1)).sum(-1, keepdim=True)
    omega = cos.clamp(-1, 1).acos()
    so = omega.sin()
    safe = so.abs() > 1e-6  # (anti)parallel endpoints: no unique great circle, fall back to the line
    so = torch.where(safe, so, torch.ones_like(so))
    wa = torch.where(safe, ((1 - t) * omega).sin() / so, 1 - t)
    wb = torch.where(safe, (t * omega).sin() / so, t)
    return wa * a + wb * b


def interp_inputs(latents: Latents, rows: int, steps: int, method: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(z, y) of an interpolation grid, row-major: row r runs from endpoint 2r to endpoint 2r+1 (seeded);
    conditional models: row r keeps class r mod classes."""
    ends = latents.noise(2 * rows, "cpu", NOISE_KEY, INTERP_KEY)
    z = interpolate(ends[0::2], ends[1::2], steps, method).reshape(rows * steps, -1)
    y = torch.arange(rows).remainder(latents.num_classes).repeat_interleave(steps) if latents.num_classes else None
    return z, y


@torch.no_grad()
def batches(G, latents: Latents, n: int, batch_size: int, device, progress: bool = True):
    """(first index, uint8 NCHW images, int64 labels or None) of n seeded samples in batches. Image i's noise
    (and label) depends on (seed, i) only, not on the batch size or the device."""
    z_all = latents.noise(n, "cpu", NOISE_KEY)
    y_all = latents.labels(n, "cpu", NOISE_KEY)
    with tqdm(total=n, unit="img", desc="sngan sample", disable=not progress, dynamic_ncols=True) as bar:
        for i in range(0, n, batch_size):
            z = z_all[i:i + batch_size].to(device)
            y = None if y_all is None else y_all[i:i + batch_size]
            images = to_uint8(G(z, None if y is None else y.to(device))).cpu()
            yield i, images, y
            bar.update(len(images))


# ---- where to write ---------------------------------------------------------------------------------

def output_kind(out: str) -> str:
    """'png', 'npz' or 'dir' from out's extension (no extension or an existing folder: 'dir')."""
    if out.endswith(("/", os.sep)) or os.path.isdir(out):
        return "dir"
    ext = os.path.splitext(out)[1].lower()
    kinds = {".png": "png", ".npz": "npz", "": "dir"}
    if ext not in kinds:
        raise ConfigError(f"out={out} has an unknown extension {ext}: {OUT_FIX}")
    return kinds[ext]


class Staged:
    """The output under a temporary name in its destination folder; commit() renames it into place,
    discard() removes it. Creating it checks that the destination can be written."""

    def __init__(self, out: str, kind: str):
        self.out, self.kind = os.path.abspath(out.rstrip("/" + os.sep) or out), kind
        parent, name = os.path.split(self.out)
        if kind == "dir" and os.path.exists(self.out):
            if not os.path.isdir(self.out):
                raise ConfigError(f"out={out} is a file, not a folder: {OUT_FIX}")
            if os.listdir(self.out):
                raise ConfigError(f"out={out} is a folder that is not empty: pass out=NEW_FOLDER (it is created) "
                                  f"or empty it first")
        self.created = first_missing(parent)  # folders made for the output, taken away again by discard()
        try:
            os.makedirs(parent, exist_ok=True)
            if kind == "dir":
                self.tmp = tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent)
            else:
                fd, self.tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=parent)
                os.close(fd)
        except OSError as e:
            raise ConfigError(f"cannot write {self.out} ({e.strerror}): pass out=PATH in a writable folder") from None

    def commit(self) -> str:
        if self.kind != "dir":
            with open(self.tmp, "rb+") as f:
                os.fsync(f.fileno())
        # mkstemp and mkdtemp make private files; the output gets the usual permissions
        os.chmod(self.tmp, (0o777 if self.kind == "dir" else 0o666) & ~_umask())
        os.replace(self.tmp, self.out)  # an empty existing folder is replaced as well
        return self.out

    def discard(self) -> None:
        if self.kind == "dir":
            shutil.rmtree(self.tmp, ignore_errors=True)
        elif os.path.exists(self.tmp):
            os.remove(self.tmp)
        if self.created is not None:
            shutil.rmtree(self.created, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---- the command ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InterpOptions:
    rows: int           # pairs of endpoints, one row each
    steps: int          # columns, both endpoints included
    method: str         # slerp or lerp


@dataclass(frozen=True)
class SampleOptions:
    """`sngan sample`'s options (conf/sample.yaml documents each; the defaults live there only)."""

    ckpt: str
    n: int
    out: str
    mode: str
    seed: int
    batch_size: int
    progress: bool
    ema: bool
    device: str
    interp: dict

    @classmethod
    def parse(cls, cfg) -> tuple["SampleOptions", InterpOptions]:
        """The options and their interp part, checked (one-line ConfigErrors naming the fix) before any
        checkpoint is read."""
        if OmegaConf.is_missing(cfg, "ckpt"):
            raise ConfigError("no checkpoint given: pass ckpt=PATH (a ckpt_*.pt file, a run folder, or RUN:best)")
        o = parse(cls, cfg, "", ignore=())
        interp = parse(InterpOptions, cfg.interp, "interp", ignore=())
        if o.n < 1:
            raise ConfigError(f"n must be >= 1, got {o.n}: pass e.g. n=64")
        if o.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {o.batch_size}: pass e.g. batch_size=250")
        if o.mode not in MODES:
            raise ConfigError(f"unknown mode={o.mode}: pass mode=grid or mode=interp")
        if o.mode == "interp":
            if output_kind(o.out) != "png":
                raise ConfigError(f"mode=interp draws one PNG, not out={o.out}: pass out=FILE.png")
            if interp.rows < 1:
                raise ConfigError(f"interp.rows must be >= 1, got {interp.rows}: pass e.g. interp.rows=8")
            if interp.steps < 2:
                raise ConfigError(f"interp.steps must be >= 2, got {interp.steps}: pass e.g. interp.steps=10")
            if interp.method not in METHODS:
                raise ConfigError(f"unknown interp.method={interp.method}: pass interp.method=slerp or lerp")
        return o, interp


def write(G, latents: Latents, o: SampleOptions, interp: InterpOptions, kind: str, path: str, device) -> None:
    """Draw and write the output to `path` (a file, or an existing empty folder for kind 'dir')."""
    n, bs = o.n, o.batch_size
    if kind == "png":
        if o.mode == "interp":
            z, y = interp_inputs(latents, interp.rows, interp.steps, interp.method)
            nrow = interp.steps
        else:
            z, y, nrow = grid_inputs(latents, n)
        save_image(to_grid(forward(G, z, y, bs, device), nrow), path, format="PNG")
    elif kind == "npz":
        images, labels = None, []
        for i, batch, y in batches(G, latents, n, bs, device, o.progress):
            if images is None:
                images = np.empty((n, *batch.shape[2:], batch.shape[1]), dtype=np.uint8)  # NHWC
            images[i:i + len(batch)] = batch.permute(0, 2, 3, 1).numpy()
            if y is not None:
                labels.append(y)
        arrays = {"images": images}
        if latents.num_classes:
            arrays["labels"] = torch.cat(labels).to(torch.int64).numpy()
        with open(path, "wb") as f:
            np.savez(f, **arrays)
    else:
        for i, batch, _ in batches(G, latents, n, bs, device, o.progress):
            for j, image in enumerate(batch):
                write_png(image, os.path.join(path, f"{i + j:06d}.png"))


def write_png(image: torch.Tensor, path: str) -> None:
    """One uint8 CHW image as a PNG: grayscale (L) for 1 channel, RGB for 3."""
    array = image.permute(1, 2, 0).numpy()
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path, format="PNG")


def sample(cfg) -> str:
    o, interp = SampleOptions.parse(cfg)
    kind = output_kind(o.out)
    staged = Staged(o.out, kind)
    try:
        device = pick_device(o.device)
        path = resolve_checkpoint(o.ckpt)
        G, recipe, _ = generator_from_state(load_checkpoint(path, map_location="cpu"), device, o.ema, path)
        shape = recipe.shape
        if shape.points:
            raise ConfigError(f"the checkpoint's generator makes 2-D points ({shape.dataset}), not images: "
                              f"pass a checkpoint of an image dataset")
        with writing(staged.out):  # a full disk: one line, the partial output removed
            write(G, Latents.of(shape, o.seed), o, interp, kind, staged.tmp, device)
            out = staged.commit()
    except BaseException:
        staged.discard()
        raise
    print(out)
    return out

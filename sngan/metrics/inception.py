"""Where the Inception weights come from: a configured file, $SNGAN_INCEPTION_WEIGHTS, torch-fidelity's
download cache, or (when allowed) a download into that cache. Without any, training refuses to start."""
from __future__ import annotations

import os

import torch

from ..errors import UserError

EXTRACTOR = "inception-v3-compat"  # torch-fidelity's name: the TF-ported Inception of the original IS/FID
ENV_VAR = "SNGAN_INCEPTION_WEIGHTS"
WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{WEIGHTS_FILE}"


class InceptionUnavailable(UserError):
    """Inception metrics are on but no weights can be had."""


def hub_weights_path() -> str:
    """The file torch-fidelity itself downloads to: $TORCH_HOME/hub/checkpoints/<name>."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", WEIGHTS_FILE)


FIXES = (f"run `sngan fetch` on a machine with internet, or pass metrics.inception_weights=PATH "
         f"(or set {ENV_VAR}=PATH) to a local {WEIGHTS_FILE}, or pass metrics.enabled=false to train without metrics")


def _explicit(path: str, origin: str) -> str:
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        raise InceptionUnavailable(f"Inception weights file {os.path.abspath(path)} (from {origin}) does not exist: "
                                   f"fix the path, or {FIXES}")
    return path


def download(dest: str | None = None) -> str:
    """Download the weights to dest (default: torch-fidelity's cache); returns the path."""
    from ..fsutil import removed_on_failure

    dest = dest or hub_weights_path()
    folder = os.path.dirname(os.path.abspath(dest))
    with removed_on_failure(folder):  # offline: no empty cache folders left behind
        os.makedirs(folder, exist_ok=True)
        torch.hub.download_url_to_file(WEIGHTS_URL, dest, progress=False)
    return dest


def resolve_weights(configured: str | None, allow_download: bool) -> str:
    """A local path to the Inception weights, or InceptionUnavailable naming the fixes."""
    if configured:
        return _explicit(str(configured), "metrics.inception_weights")
    if os.environ.get(ENV_VAR):
        return _explicit(os.environ[ENV_VAR], f"${ENV_VAR}")
    cached = hub_weights_path()
    if os.path.isfile(cached):
        return cached
    if allow_download:
        try:
            return download(cached)
        except Exception as e:  # offline: URLError at once; partial downloads are removed by torch.hub
            from ..fsutil import root_cause

            reason = f"download failed: {root_cause(e)}"
    else:
        reason = "downloads disabled by metrics.download_weights=false"
    raise InceptionUnavailable(f"Inception weights for IS/FID/KID not found (not at {cached}; {reason}): {FIXES}")


def check_weights_file(path: str) -> None:
    """Build torch-fidelity's Inception from the file, so a wrong file fails now rather than mid-training."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    try:
        FeatureExtractorInceptionV3(EXTRACTOR, ["2048"], feature_extractor_weights_path=path)
    except Exception as e:
        raise InceptionUnavailable(f"{os.path.abspath(path)} is not a torch-fidelity Inception weights file "
                                   f"({type(e).__name__}): {FIXES}") from None

"""`sngan fetch`: on a machine with internet, download what training and metrics need later offline."""
from __future__ import annotations

import argparse
import os

from omegaconf import OmegaConf

from ..errors import UserError
from ..metrics import inception

DOWNLOADABLE = ("mnist", "fashion_mnist", "cifar10", "stl10")  # torchvision datasets; digits ship with scikit-learn


def dataset_config(name: str, root: str | None):
    from importlib.resources import files

    from ..data.options import parse_dataset

    cfg = OmegaConf.load(str(files("sngan.conf").joinpath("dataset", f"{name}.yaml")))
    # into --root/<name>, else the dataset's own folder (data/<name>): never the read-only system folder
    folder = os.path.join(root, name) if root else (cfg.root or os.path.join("data", name))
    return parse_dataset(OmegaConf.merge(cfg, {"download": True, "root": folder, "system_root": None}))


def fetch_dataset(name: str, root: str | None) -> str:
    from ..data.images import load_images
    from ..errors import DownloadError
    from ..fsutil import removed_on_failure, root_cause

    cfg = dataset_config(name, root)
    try:
        with removed_on_failure(cfg.root):
            for split in ("train", "test"):
                load_images(cfg, split)
    except UserError as e:
        if not isinstance(e, DownloadError):
            raise
        reason = e.reason  # the loader's own download failed
    except Exception as e:  # URLError, HTTP errors, interrupted archives
        reason = root_cause(e)
    else:
        return os.path.abspath(cfg.root)
    raise UserError(f"cannot download {name} to {os.path.abspath(cfg.root)} ({reason}): this machine cannot reach "
                    f"the dataset's server: run `sngan fetch` where it can and copy the folder here, or copy the "
                    f"files there by hand")


def fetch_inception(dest: str | None) -> str:
    from ..fsutil import root_cause

    dest = dest or inception.hub_weights_path()
    if os.path.isfile(dest):
        return dest
    try:
        return inception.download(dest)
    except Exception as e:
        raise UserError(f"cannot download the Inception weights from {inception.WEIGHTS_URL} ({root_cause(e)}): "
                        f"this machine cannot reach it: fetch that file where it can and pass "
                        f"metrics.inception_weights=PATH") from None


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="sngan fetch", description=__doc__.split(":", 1)[1].strip())
    p.add_argument("--datasets", default=",".join(DOWNLOADABLE),
                   help=f"comma-separated, from {', '.join(DOWNLOADABLE)}; 'none' for none (default: all)")
    p.add_argument("--root", default=None,
                   help="parent folder for the datasets (default: each dataset's dataset.root, e.g. data/cifar10)")
    p.add_argument("--no-inception", action="store_true", help="skip the Inception weights")
    p.add_argument("--inception-dest", default=None,
                   help=f"where to put the Inception weights (default: torch-fidelity's cache, "
                        f"$TORCH_HOME/hub/checkpoints/{inception.WEIGHTS_FILE}, found without any option)")
    return p.parse_args(argv)


def fetch(argv: list[str]) -> None:
    args = parse(argv)
    names = [] if args.datasets == "none" else [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DOWNLOADABLE]
    if unknown:
        raise UserError(f"cannot fetch {', '.join(unknown)}: choose from {', '.join(DOWNLOADABLE)} "
                        f"(imagenet needs a manual download; digits ship with scikit-learn)")
    for name in names:
        print(f"{name}: {fetch_dataset(name, args.root)}")
    if not args.no_inception:
        path = fetch_inception(args.inception_dest)
        hint = "" if args.inception_dest is None else f" (pass metrics.inception_weights={path} or set " \
                                                      f"{inception.ENV_VAR}={path})"
        print(f"inception: {path}{hint}")

"""The run folder: its layout and logs, checkpoints, and TensorBoard hparams."""
from . import naming  # noqa: F401  (registers the sngan_run_name resolver of conf/train.yaml)
from .layout import RunFolder

__all__ = ["RunFolder"]

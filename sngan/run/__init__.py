"""The run folder: its layout and logs, checkpoints, and TensorBoard hparams."""
from .layout import RunFolder

__all__ = ["RunFolder"]

"""Training: the entry that maps the config onto the loop (entry), the loop itself (loop), and what it
uses: build, resume, parallel (torchrun), speed options, stop signals, the non-finite halt."""
from .entry import train

__all__ = ["train"]

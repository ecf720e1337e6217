"""sngan: train GANs with spectral normalization and its rivals, and measure them."""

__version__ = "0.1.0"

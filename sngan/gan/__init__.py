"""The GAN itself: architectures, losses, D's normalizations, G's moving average, and sampling."""

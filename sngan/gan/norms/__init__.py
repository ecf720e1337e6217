"""D's normalization, one registry entry per `norm` option (see registry.py), and `norm_g` for G."""
from . import none, sn, wn, wc, bssn, gp, ln, bn, ortho  # noqa: F401,I001  (each registers its entry, in this order)
from .generator_norm import apply_norm_g
from .layers import effective_weight, fold_parametrizations, raw_weight, sigma_estimates, singular_values_of, weighted_layers
from .registry import NORMS, Norm, build_norm, register_norm

__all__ = ["NORMS", "Norm", "apply_norm_g", "build_norm", "effective_weight", "fold_parametrizations", "raw_weight",
           "register_norm", "sigma_estimates", "singular_values_of", "weighted_layers"]

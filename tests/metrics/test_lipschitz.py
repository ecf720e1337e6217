"""The operator norm of each conv layer, checked against the dense matrix of the convolution."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import build_models_for
from sngan.gan.norms.spectral import exact_sigma
from sngan.metrics.lipschitz import conv_input_sizes, conv_operator_norm, lipschitz_bounds
from sngan.metrics.sigma import layer_name, sigma_report
from sngan.run.logger import read_scalars
from sngan.train import train


def dense_norm(layer, shape):
    """Largest singular value of the conv's matrix, built by pushing the identity basis through it."""
    n = int(torch.tensor(shape).prod())
    basis = torch.eye(n, dtype=torch.float64).view(n, *shape)
    with torch.no_grad():
        columns = layer(basis) - layer(torch.zeros(1, *shape, dtype=torch.float64))  # drop the bias
    return torch.linalg.matrix_norm(columns.reshape(n, -1).t(), ord=2).item()


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Conv2d(2, 3, 3, 1, 1), (2, 5, 5)),
    (lambda: nn.Conv2d(2, 3, 3, 2, 1), (2, 5, 5)),    # odd size, stride 2: the adjoint needs output_padding
    (lambda: nn.Conv2d(2, 3, 4, 2, 1), (2, 6, 6)),
    (lambda: nn.Conv2d(3, 2, 1), (3, 4, 4)),
    (lambda: nn.ConvTranspose2d(3, 2, 4, 2, 1), (3, 3, 3)),
])
def test_operator_norm_matches_the_dense_matrix(make, shape):
    torch.manual_seed(0)  # weights drawn here, not at collection, so the test does not depend on order
    layer = make().double()
    sigma, _ = conv_operator_norm(layer, shape, 1000, torch.Generator().manual_seed(0), dtype=torch.float64)
    exact = dense_norm(layer, shape)
    assert sigma <= exact * (1 + 1e-12)  # power iteration approaches from below
    assert sigma == pytest.approx(exact, rel=1e-6)


def test_operator_norm_differs_from_the_reshaped_kernel_norm():
    torch.manual_seed(1)
    layer = nn.Conv2d(2, 3, 3, 1, 1).double()
    sigma, _ = conv_operator_norm(layer, (2, 6, 6), 1000, torch.Generator().manual_seed(0), dtype=torch.float64)
    assert abs(sigma - exact_sigma(layer.weight)) > 1e-3


def test_input_sizes_recorded_once_and_linear_layers_exact():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.Flatten(), nn.Linear(64, 3))
    assert lipschitz_bounds(net, {}, 100, seed=0, step=0) == pytest.approx({"2": exact_sigma(net[2].weight)})  # no size known
    sizes = conv_input_sizes(net, torch.randn(2, 1, 8, 8))
    assert sizes == {"0": (1, 8, 8)} and net.training  # mode restored
    assert not net[0]._forward_hooks and not hasattr(net[0], "_lipschitz_input_shape")  # nothing left on the layers
    first = lipschitz_bounds(net, sizes, 3, seed=0, step=200)
    assert set(first) == {"0", "2"}


def test_a_report_depends_on_the_weights_and_the_step_alone():
    """No state carried between reports: a resumed run, which has made no earlier report, logs the same values."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.Conv2d(8, 8, 3, 2, 1))
    sizes = conv_input_sizes(net, torch.randn(1, 3, 8, 8))
    for step in (100, 200):
        lipschitz_bounds(net, sizes, 3, seed=0, step=step)  # an uninterrupted run's earlier reports
    after_history = lipschitz_bounds(net, sizes, 3, seed=0, step=300)
    assert lipschitz_bounds(net, sizes, 3, seed=0, step=300) == after_history  # bitwise, few iterations or not
    assert lipschitz_bounds(net, sizes, 3, seed=0, step=400) != after_history  # the start is the step's own


def test_sigma_report_and_training_log_lipschitz_beside_sigma(small_cfg):
    cfg = small_cfg("train.steps=2", "norm=sn")
    _, D = build_models_for(cfg)
    sizes = conv_input_sizes(D, torch.randn(2, 1, 16, 16))
    scalars, spectra = sigma_report(D, sizes, 100, seed=0, step=0)
    convs = [layer_name(n) for n, m in D.named_modules() if isinstance(m, nn.Conv2d)]
    assert convs[:2] == ["main.00", "main.02"] and convs == sorted(convs)  # text order is network order
    for name in convs + ["fc"]:
        assert f"lipschitz/D/{name}" in scalars and f"sigma/D/{name}" in scalars
    # linear layers: the exact sigma of the weight the layer computes with
    assert scalars["lipschitz/D/fc"] == pytest.approx(spectra["fc"][0].item(), rel=1e-5)
    train(cfg)
    tags = {r["tag"] for r in read_scalars(f"{cfg.run_dir}/scalars.jsonl")}
    assert {f"lipschitz/D/{n}" for n in convs} <= tags

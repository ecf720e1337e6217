"""Names vulture cannot see used (run by tests/quality/test_dead_code.py): entry points named in strings (sngan.cli's
COMMANDS table), registry entries kept by their decorators, and callbacks that frameworks call by signature."""
# ruff: noqa
from sngan.commands.bench import bench, norms, overhead, throughput
from sngan.commands import eval as eval_command, fetch, sample
from sngan.commands.report import report
from sngan.data.images import forget_loaded  # tests reset the per-process dataset cache with it
from sngan.gan.norms import bn, bssn, gp, ln, none, ortho, wc, wn
from sngan.launch import SweepRecord
from sngan.metrics import classes, classifier, image_quality, sigma
from sngan.train.sync_bn import CPUSyncBatchNorm

bench; norms.norm_table; overhead.overhead; throughput.throughput  # COMMANDS / MODES (sngan/cli.py, bench/__init__.py)
eval_command.evaluate; fetch.fetch; report.report; sample.sample
forget_loaded
bn.BatchNormalization; bssn.BidirectionalScaledSN; gp.GradientPenalty; ln.LayerNormalization; none.NoNorm
ortho.OrthonormalRegularization; wc.WeightClipping; wn.WeightNormalization  # @register_norm
image_quality.PrecisionRecall; sigma.SigmaDiagnostics; sigma.SigmaNormalized; classes.ClassCoverage  # @register_metric
SweepRecord.on_multirun_start  # a Hydra callback hook
classifier.FeatureExtractorClassifier.get_provided_features_list  # torch-fidelity's extractor interface
classifier.FeatureExtractorClassifier.get_default_feature_layer_for_metric
classifier.FeatureExtractorClassifier.can_be_compiled
classifier.FeatureExtractorClassifier.get_dummy_input_for_compile
CPUSyncBatchNorm._check_input_dim  # overrides torch's check
_.found_inf  # fused Adam reads optimizer.found_inf (sngan/train/finite.py)
_.benchmark  # torch.backends.cudnn.benchmark, set by sngan/train/speed.py
worker_id, frame, tb  # signatures set by DataLoader, signal and the context-manager protocol

"""The domain classifier behind IS/FID/KID on labelled datasets: one per dataset's data (never shared by name), its
recipe per dataset, its accuracy floor, and the real reference it is measured against."""
from __future__ import annotations

import json
import os

import torch

from conftest import SMALL, compose_train, dataset_of, fidelity_of, run_cli
from data.test_real_images import write_folder
from sngan.data.images import forget_loaded
from sngan.metrics import classifier
from sngan.metrics.fidelity import reference_for, reference_split


def folder_dataset(root, *overrides):
    return dataset_of(compose_train(["dataset=folder", f"dataset.root={root}", "dataset.resolution=8",
                                     "dataset.channels=1", *overrides]))


def test_two_datasets_of_one_name_and_shape_get_two_classifiers(tmp_path):
    a = folder_dataset(write_folder(tmp_path / "a" / "shoes", seed=0, per_class=8))
    b = folder_dataset(write_folder(tmp_path / "b" / "shoes", seed=1, per_class=8))
    assert (a.name, a.resolution, a.channels, a.num_classes) == (b.name, b.resolution, b.channels, b.num_classes)
    path_a, meta_a = classifier.ensure_classifier(a, 0, "v2", 0.25, 0.0)
    path_b, meta_b = classifier.ensure_classifier(b, 0, "v2", 0.25, 0.0)
    assert path_a != path_b and meta_a["data_digest"] != meta_b["data_digest"]
    stamp = os.stat(path_a).st_mtime_ns
    assert classifier.ensure_classifier(a, 0, "v2", 0.25, 0.0) == (path_a, meta_a)  # cached: not trained again
    assert os.stat(path_a).st_mtime_ns == stamp


def test_a_cached_file_made_from_other_data_is_not_loaded(tmp_path, capsys):
    dataset = folder_dataset(write_folder(tmp_path / "shoes", per_class=8))
    path, meta = classifier.ensure_classifier(dataset, 0, "v2", 0.25, 0.0)
    state = torch.load(path, weights_only=True)
    state["meta"]["data_digest"] = "0" * 64  # what a file of other data at this path would say
    torch.save(state, path)
    capsys.readouterr()
    again, meta_again = classifier.ensure_classifier(dataset, 0, "v2", 0.25, 0.0)
    assert again == path and meta_again["data_digest"] == meta["data_digest"]
    assert "training the shoes classifier" in capsys.readouterr().err


def test_the_digits_keep_recipe_v1_and_every_other_dataset_gets_v2():
    digits = dataset_of(compose_train([]))
    fashion = dataset_of(compose_train(["dataset=fashion_mnist"]))
    assert classifier.recipe_for(digits, "auto").name == "v1" and classifier.recipe_for(fashion, "auto").name == "v2"
    assert classifier.recipe_for(digits, "v2").name == "v2"


def test_an_accuracy_below_the_floor_is_one_warning_line(tmp_path, capsys):
    dataset = folder_dataset(write_folder(tmp_path / "shoes", per_class=8))
    classifier.ensure_classifier(dataset, 0, "v2", 0.25, min_accuracy=1.01)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "below metrics.classifier_min_accuracy=101%" in warnings[0]


def test_the_real_reference_is_what_the_classifier_never_saw(tmp_path):
    digits, options = dataset_of(compose_train([])), fidelity_of(compose_train([]))
    fashion = dataset_of(compose_train(["dataset=fashion_mnist"]))
    cifar = dataset_of(compose_train(["dataset=cifar10"]))
    assert reference_split(fashion, options, "classifier") == "test"
    assert reference_split(digits, options, "classifier") == "train"
    assert reference_split(cifar, options, "inception") == "train"
    folder = folder_dataset(write_folder(tmp_path / "shoes", per_class=10))
    assert reference_split(folder, options, "classifier") == "heldout"
    reference = reference_for(folder, options, "classifier")
    splits = classifier.classifier_splits(folder, options.classifier_seed, options.classifier_holdout)
    held = torch.stack([reference[i] for i in range(len(reference))])[:, :1]
    assert len(reference) == len(splits.y_test) == 4
    assert sorted(map(bytes, held.numpy())) == sorted(map(bytes, splits.x_test.numpy()))  # the same images


def test_a_grayscale_folder_trains_with_labels_and_classifier_metrics(tmp_path):
    """sngan train on a folder of grayscale PNGs in class folders: run folder and tags named after the folder, FID
    against its held-out part, the classifier's accuracy in the protocol, memorization and class shares measured."""
    forget_loaded()
    root = write_folder(tmp_path / "data" / "my_garments", classes=("bag", "boot", "coat"), per_class=12, mode="L")
    args = ["train", "dataset=folder", f"dataset.root={root}", "dataset.resolution=16", "dataset.channels=1",
            *[a for a in SMALL if not a.startswith("metrics.")], "metrics.num_samples=40", "metrics.isc_splits=2",
            "metrics.kid_subset_size=5", "metrics.every.fidelity=4", "metrics.memorization.num_samples=20",
            "metrics.every.memorization=4", "metrics.classes.num_samples=30", "metrics.every.classes=4"]
    proc = run_cli(args, cwd=tmp_path)
    runs = os.listdir(tmp_path / "outputs")
    assert runs == ["my_garments"], proc.stdout
    run = tmp_path / "outputs" / "my_garments" / os.listdir(tmp_path / "outputs" / "my_garments")[0]
    records = [json.loads(line) for line in open(run / "metrics.jsonl")]
    fid = next(r for r in records if "metrics/FID_my_garments" in r["metrics"])
    assert fid["protocol"]["reference"]["split"] == "heldout" and fid["protocol"]["reference"]["size"] == 7
    assert 0 <= fid["protocol"]["classifier_test_accuracy"] <= 1 and fid["real"]["metrics/FID_my_garments"] >= 0
    assert any("metrics/memorization_ratio" in r["metrics"] for r in records)
    shares = next(r for r in records if "class_shares" in r)
    assert len(shares["class_shares"]) == 3 and abs(sum(shares["class_shares"]) - 1) < 1e-5
    assert shares["metrics"]["metrics/class_share_min"] == min(shares["class_shares"])
    assert shares["protocol"]["classes"]["generated"] == 30
    assert "FID_my_garments" in proc.stdout

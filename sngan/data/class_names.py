"""The label names of the built-in labelled formats, in label order (what `sngan report` heads class columns with;
a folder's classes are its sub-folders, named by the user)."""
from __future__ import annotations

DIGITS = tuple(str(d) for d in range(10))

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "digits": DIGITS,
    "mnist": DIGITS,
    # Zalando's fashion-mnist README, "Labels"
    "fashion_mnist": ("T-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"),
    # torchvision CIFAR10.classes / STL10.classes
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    "stl10": ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"),
}


def class_names(dataset_format: str, num_classes: int) -> tuple[str, ...]:
    """Names of a format's classes, or "class 0", "class 1", ... where the format has none of its own."""
    names = CLASS_NAMES.get(dataset_format, ())
    return names if len(names) == num_classes else tuple(f"class {k}" for k in range(num_classes))

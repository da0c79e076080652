"""Product-image models: data, augmentation, CNNs, training, evaluation, Grad-CAM, compression.

>>> from ecomlib.data import load_fashion_mnist
>>> from ecomlib import vision
>>> x_tr, y_tr, x_te, y_te, classes = load_fashion_mnist()
>>> model = vision.ImageClassifier("resnet", classes, width=32)
>>> result = vision.train_classifier(model, x_tr, y_tr, epochs=3, augment=vision.Augment())
>>> probs = vision.predict_proba(result.model, x_te)          # N x 10 probabilities
>>> vision.evaluate(probs, y_te, classes).accuracy
"""

from ecomlib.vision.augment import Augment, random_erasing, random_flip, random_shift
from ecomlib.vision.compress import (
    compression_table,
    cpu_latency_ms,
    quantize_dynamic,
    quantize_static,
    size_bytes,
)
from ecomlib.vision.data import (
    ImageFolder,
    class_balance,
    load_image_folder,
    resize,
    subsample,
    to_tensor,
)
from ecomlib.vision.evaluate import (
    Evaluation,
    class_examples,
    confident_mistakes,
    evaluate,
    image_grid,
)
from ecomlib.vision.gradcam import grad_cam
from ecomlib.vision.models import (
    MODELS,
    ImageClassifier,
    ResNetCNN,
    SeedCNN,
    build_model,
    count_parameters,
)
from ecomlib.vision.training import (
    accuracy,
    load_model,
    predict_proba,
    save_model,
    train_classifier,
)

__all__ = [
    "MODELS",
    "Augment",
    "Evaluation",
    "ImageClassifier",
    "ImageFolder",
    "ResNetCNN",
    "SeedCNN",
    "accuracy",
    "build_model",
    "class_balance",
    "class_examples",
    "compression_table",
    "confident_mistakes",
    "count_parameters",
    "cpu_latency_ms",
    "evaluate",
    "grad_cam",
    "image_grid",
    "load_image_folder",
    "load_model",
    "predict_proba",
    "quantize_dynamic",
    "quantize_static",
    "random_erasing",
    "random_flip",
    "random_shift",
    "resize",
    "save_model",
    "size_bytes",
    "subsample",
    "to_tensor",
    "train_classifier",
]

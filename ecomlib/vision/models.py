"""CNNs for product images: the seed's conv -> ReLU -> pool -> dense network and a residual one.

Both take float images ``N x C x H x W`` (already normalised, see
:func:`ecomlib.vision.data.to_tensor`) and return class logits ``N x num_classes``. They work
for any image size of at least 8 x 8 pixels (global pooling before the classifier).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ecomlib._validate import check_param
from ecomlib.errors import ParameterError


class SeedCNN(nn.Module):
    """The seed's idea in its plainest form: (conv -> ReLU -> max-pool) x 2 -> dense -> dense.

    Parameters
    ----------
    in_channels : int
        1 for grey images, 3 for RGB.
    num_classes : int
        Number of output classes.
    width : int
        Filters of the first convolution (the second has twice as many).
    hidden : int
        Units of the hidden dense layer.
    dropout : float
        Dropout before the output layer.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        width: int = 32,
        hidden: int = 128,
        dropout: float = 0.25,
    ):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        # Fixed 7 x 7 grid whatever the input size, so the dense layer's size is known.
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * 49, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    @property
    def cam_layer(self) -> nn.Module:
        """The last convolutional block (Grad-CAM hooks here)."""
        return self.features[-2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)))


def conv_bn(cin: int, cout: int) -> nn.Sequential:
    """3 x 3 convolution -> batch norm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class Residual(nn.Module):
    """``x + block(x)`` with two conv-BN-ReLU layers of the same width."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(conv_bn(channels, channels), conv_bn(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResNetCNN(nn.Module):
    """A small ResNet: a full-resolution stem, then two stages of pool -> conv -> residual block.

    Layout for ``width=w`` on a 28 x 28 image: conv(w) @28 -> pool -> conv(2w) + residual(2w)
    @14 -> pool -> conv(4w) + residual(4w) @7 -> classifier. Pooling before the wider
    convolutions keeps it cheap enough for a 2-core CPU.

    Parameters
    ----------
    in_channels, num_classes : int
    width : int
        Channels of the stem; 16 trains in minutes on a CPU, 64 or more suits a GPU.
    dropout : float
        Dropout before the classifier.
    head : {"dense", "gmp"}
        ``"dense"``: a linear layer over the whole 7 x 7 feature map, which keeps *where* a part
        was found (sleeve length, collar) and learns fastest on small images;
        ``"gmp"``: global max pooling then a linear layer (position-free, fewest weights).
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        width: int = 16,
        dropout: float = 0.2,
        head: str = "dense",
    ):
        super().__init__()
        w = width
        self.stem = conv_bn(in_channels, w)
        self.layer1 = nn.Sequential(nn.MaxPool2d(2), conv_bn(w, 2 * w), Residual(2 * w))
        self.layer2 = nn.Sequential(nn.MaxPool2d(2), conv_bn(2 * w, 4 * w), Residual(4 * w))
        if head == "dense":
            self.head = nn.Sequential(
                nn.AdaptiveAvgPool2d(7),
                nn.Flatten(),
                nn.Dropout(dropout),
                nn.Linear(4 * w * 49, num_classes),
            )
        elif head == "gmp":
            self.head = nn.Sequential(
                nn.AdaptiveMaxPool2d(1),
                nn.Flatten(),
                nn.Dropout(dropout),
                nn.Linear(4 * w, num_classes),
            )
        else:
            raise ParameterError(
                f"The 'head' parameter of ResNetCNN must be 'dense' or 'gmp'; got {head!r}."
            )

    @property
    def cam_layer(self) -> nn.Module:
        """The last residual stage (Grad-CAM hooks here)."""
        return self.layer2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layer2(self.layer1(self.stem(x))))


MODELS: dict[str, type[nn.Module]] = {"seed": SeedCNN, "resnet": ResNetCNN}


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a model by name: ``"seed"`` (:class:`SeedCNN`) or ``"resnet"`` (:class:`ResNetCNN`).

    Keyword arguments go to the model's constructor.
    """
    if name not in MODELS:
        raise ParameterError(f"Unknown model {name!r}: use one of {sorted(MODELS)}.")
    return MODELS[name](**kwargs)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class ImageClassifier(nn.Module):
    """A CNN with its input normalisation and class names: what is trained, saved and served.

    Takes float images ``N x C x H x W`` in [0, 1] (see :func:`ecomlib.vision.data.to_tensor`)
    and returns logits. Everything needed to rebuild it is in :attr:`config` (plain Python
    values), so :func:`ecomlib.vision.save_model` stores weights only.

    Parameters
    ----------
    arch : {"seed", "resnet"}
        The network (see :data:`MODELS`).
    classes : sequence of str
        Class names; their number sets the output size.
    in_channels : int
        1 (grey) or 3 (RGB).
    image_size : int
        Side of the square input images.
    mean, std : float
        Pixel statistics of the training images, used to normalise the input.
    **arch_kwargs
        Passed to the network (e.g. ``width``, ``dropout``).
    """

    def __init__(
        self,
        arch: str = "resnet",
        classes: tuple[str, ...] | list[str] = (),
        in_channels: int = 1,
        image_size: int = 28,
        mean: float = 0.5,
        std: float = 0.25,
        **arch_kwargs: Any,
    ):
        super().__init__()
        # an nn.Module: the layers built here depend on these values, so they are checked here
        classes = tuple(str(c) for c in classes)
        check_param("classes", classes, len(classes) >= 2, "at least 2 classes (names)", self)
        check_param("image_size", image_size, lambda v: v >= 8, "at least 8 (pixels)", self)
        check_param("std", std, lambda v: v > 0, "a number > 0", self)
        self.config = dict(
            arch=arch,
            classes=list(classes),
            in_channels=int(in_channels),
            image_size=int(image_size),
            mean=float(mean),
            std=float(std),
            **arch_kwargs,
        )
        self.classes = classes
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        self.net = build_model(
            arch, in_channels=in_channels, num_classes=len(classes), **arch_kwargs
        )

    @property
    def cam_layer(self) -> nn.Module:
        """Layer whose activations Grad-CAM explains."""
        return self.net.cam_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)

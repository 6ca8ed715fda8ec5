"""A small ResNet for 8×8 digit images: one stem, one residual block, one head.

Shapes in the comments use N for the batch, C for ``num_channels`` and H, W
for the image height and width.
"""

import torch
from torch import nn


class Block(nn.Module):
    """A residual block: ``relu(x + f(x))`` that keeps the shape ``(N, C, H, W)``.

    ``f`` is conv 3×3 → BatchNorm2d → ReLU → conv 3×3 → BatchNorm2d, both
    convolutions with stride 1, padding 1 and no bias (the batch norm that
    follows each one has its own shift, which a bias would only duplicate).

    Args:
        num_channels: C, the number of input and output channels.
    """

    def __init__(self, num_channels):
        super().__init__()
        # TODO: the two 3×3 convolutions (no bias) and their batch norms
        raise NotImplementedError("Block.__init__")

    def forward(self, x):
        """Return ``relu(x + f(x))`` for ``x`` of shape ``(N, C, H, W)``."""
        # TODO: f(x) as described above, then the skip connection and a ReLU
        raise NotImplementedError("Block.forward")


class ResNet(nn.Module):
    """Stem, one ``Block`` and a linear head, for ``(N, 1, H, W)`` images.

    The stem is a 3×3 convolution from 1 to C channels (stride 2, padding 1,
    no bias) → BatchNorm2d → ReLU → MaxPool2d(2). After the block, an
    adaptive average pool to 1×1 and a linear layer give the class scores.

    Args:
        num_channels: C, the width of the stem and of the block.
        num_classes: the number of output scores.
    """

    def __init__(self, num_channels, num_classes=10):
        super().__init__()
        # TODO: the stem, a Block, the average pool and the linear layer
        raise NotImplementedError("ResNet.__init__")

    def forward(self, x):
        """Return the scores ``(N, num_classes)`` for images ``(N, 1, H, W)``."""
        # TODO: stem, block, pool to (N, C), then the linear layer
        raise NotImplementedError("ResNet.forward")

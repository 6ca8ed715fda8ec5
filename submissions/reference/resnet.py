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
        # BEGIN SOLUTION
        self.conv1 = nn.Conv2d(
            num_channels, num_channels, kernel_size=3, stride=1, padding=1, bias=False
        )
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(
            num_channels, num_channels, kernel_size=3, stride=1, padding=1, bias=False
        )
        self.bn2 = nn.BatchNorm2d(num_channels)
        # END SOLUTION
        # BEGIN STUB
        # # TODO: the two 3×3 convolutions (no bias) and their batch norms
        # raise NotImplementedError("Block.__init__")
        # END STUB

    def forward(self, x):
        """Return ``relu(x + f(x))`` for ``x`` of shape ``(N, C, H, W)``."""
        # BEGIN SOLUTION
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(x + out)
        # END SOLUTION
        # BEGIN STUB
        # # TODO: f(x) as described above, then the skip connection and a ReLU
        # raise NotImplementedError("Block.forward")
        # END STUB


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
        # BEGIN SOLUTION
        self.conv = nn.Conv2d(
            1, num_channels, kernel_size=3, stride=2, padding=1, bias=False
        )
        self.bn = nn.BatchNorm2d(num_channels)
        self.pool = nn.MaxPool2d(2)
        self.block = Block(num_channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(num_channels, num_classes)
        # END SOLUTION
        # BEGIN STUB
        # # TODO: the stem, a Block, the average pool and the linear layer
        # raise NotImplementedError("ResNet.__init__")
        # END STUB

    def forward(self, x):
        """Return the scores ``(N, num_classes)`` for images ``(N, 1, H, W)``."""
        # BEGIN SOLUTION
        out = torch.relu(self.bn(self.conv(x)))  # (N, C, H/2, W/2)
        out = self.pool(out)  # (N, C, H/4, W/4)
        out = self.block(out)
        out = self.avgpool(out).flatten(1)  # (N, C)
        return self.fc(out)
        # END SOLUTION
        # BEGIN STUB
        # # TODO: stem, block, pool to (N, C), then the linear layer
        # raise NotImplementedError("ResNet.forward")
        # END STUB

"""Fit the camera image with a coordinate network (SIREN and its relatives).

A network maps a pixel's coordinates ``(x, y)`` in [-1, 1]² to its gray level
in [-1, 1]. With the sine activation, a large frequency ``omega`` and the
matching initialisation, a small network fits the image far better than the
same network with ReLU or tanh.

Run ``python siren.py -e EPOCHS -b BATCH_SIZE -a {relu,sin,tanh}``.
"""

import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from siren_utils import get_cameraman_tensor, get_coords, model_results
from torch import nn
from torch.utils.data import DataLoader, Dataset

ACTIVATIONS = {"relu": torch.relu, "sin": torch.sin, "tanh": torch.tanh}


class SingleLayer(nn.Module):
    """One layer ``act(omega * linear(x))``.

    Args:
        in_features: size of each input.
        out_features: size of each output.
        activation: ``"relu"``, ``"sin"``, ``"tanh"`` or ``None`` for none.
        bias: whether the linear layer has a bias.
        is_first: whether this is the network's first layer (its weights are
            initialised differently).
    """

    def __init__(self, in_features, out_features, activation, bias, is_first):
        super().__init__()
        if activation is None:
            self.torch_activation = nn.Identity()
        elif activation in ACTIVATIONS:
            self.torch_activation = ACTIVATIONS[activation]
        else:
            raise ValueError(
                f"unknown activation {activation!r}; "
                f"expected one of {sorted(ACTIVATIONS)} or None"
            )
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.omega = 30.0 if activation == "sin" else 1.0
        self.is_first = is_first
        self.init_weights()

    def init_weights(self):
        """Draw the weights uniformly in ``[-bound, bound]``.

        The first layer uses ``bound = 1 / in_features``; every other layer
        uses ``bound = sqrt(6 / in_features) / omega``. The bias keeps PyTorch's
        default initialisation.
        """
        with torch.no_grad():
            fan_in = self.linear.in_features
            if self.is_first:
                bound = 1.0 / fan_in
            else:
                bound = math.sqrt(6.0) / (fan_in * self.omega)
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, input):
        """Return ``act(omega * linear(input))``."""
        return self.torch_activation(self.omega * self.linear(input))


# The model is given: only SingleLayer above needs writing. The homework uses
# 7 hidden layers of 32 features; other sizes are allowed but not needed.
class Siren(nn.Module):
    """A stack of ``SingleLayer``: first layer, hidden layers, linear output."""

    def __init__(
        self, in_features, out_features, hidden_features, hidden_layers, activation
    ):
        super().__init__()
        layers = [
            SingleLayer(
                in_features, hidden_features, activation, bias=True, is_first=True
            )
        ]
        for _ in range(hidden_layers):
            layers.append(
                SingleLayer(
                    hidden_features,
                    hidden_features,
                    activation,
                    bias=True,
                    is_first=False,
                )
            )
        # The output layer has no activation.
        layers.append(
            SingleLayer(
                hidden_features,
                out_features,
                activation=None,
                bias=False,
                is_first=False,
            )
        )
        self.net = nn.Sequential(*layers)

    def forward(self, coords):
        """Map a batch of coordinates ``(B, in_features)`` to ``(B, out_features)``."""
        return self.net(coords)


class MyDataset(Dataset):
    """The pixels of the camera image at ``sidelength × sidelength``.

    Item ``idx`` is ``(coords[idx], pixels[idx])``: a ``(2,)`` coordinate in
    [-1, 1]² and the ``(1,)`` gray level found there.
    """

    def __init__(self, sidelength):
        super().__init__()
        self.sidelength = sidelength
        self.coords = get_coords(sidelength)  # (s*s, 2)
        self.pixels = get_cameraman_tensor(sidelength)  # (s*s, 1)
        # Printing the shapes of coords and pixels shows what they hold.

    def __len__(self):
        return len(self.coords)

    def __getitem__(self, idx):
        return self.coords[idx], self.pixels[idx]


def train(total_epochs, batch_size, activation, hidden_size=32, hidden_layer=7):
    """Fit the 256×256 image, save the weights to ``siren_model.p`` and plot."""
    dataset = MyDataset(256)
    dataloader = DataLoader(
        dataset, batch_size=batch_size, shuffle=True, drop_last=True
    )

    siren_model = Siren(
        in_features=2,
        out_features=1,
        hidden_features=hidden_size,
        hidden_layers=hidden_layer,
        activation=activation,
    )

    learning_rate = 1e-3
    optim = torch.optim.Adam(lr=learning_rate, params=siren_model.parameters())

    losses = []
    for epoch in range(total_epochs):
        epoch_loss = 0.0
        for coords, pixels in dataloader:
            model_output = siren_model(coords)
            loss = F.mse_loss(model_output, pixels)
            optim.zero_grad()
            loss.backward()
            optim.step()
            epoch_loss += loss.item()
        epoch_loss /= len(dataloader)
        print(f"Epoch: {epoch}, loss: {epoch_loss:4.5f}", end="\r")
        losses.append(epoch_loss)
    print()

    torch.save(siren_model.state_dict(), "siren_model.p")

    fig, ax = plt.subplots(1, 4, figsize=(16, 4))
    image, grad, lap = model_results(siren_model)
    ax[0].imshow(image, cmap="gray")
    ax[0].set_title("Fit")
    ax[1].imshow(grad, cmap="gray")
    ax[1].set_title("Gradient norm")
    ax[2].imshow(lap, cmap="gray")
    ax[2].set_title("Laplacian")
    ax[3].plot(losses)
    ax[3].set_yscale("log")
    ax[3].set_title("Training loss")
    plt.show()
    plt.close(fig)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Fit the camera image.")
    parser.add_argument("-e", "--total_epochs", required=True, type=int)
    parser.add_argument("-b", "--batch_size", required=True, type=int)
    parser.add_argument("-a", "--activation", required=True, choices=ACTIVATIONS)
    args = parser.parse_args()

    train(args.total_epochs, args.batch_size, args.activation)

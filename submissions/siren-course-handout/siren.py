import argparse
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from siren_utils import *

ACTIVATIONS = {"relu": torch.relu, "sin": torch.sin, "tanh": torch.tanh}


class SingleLayer(nn.Module):
    def __init__(self, in_features, out_features, activation, bias, is_first):
        super().__init__()
        self.in_features = in_features
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.is_first = is_first
        if activation is None:
            self.torch_activation = nn.Identity()
        elif activation not in ACTIVATIONS:
            raise ValueError("Invalid activation")
        else:
            self.torch_activation = ACTIVATIONS[activation]
        self.omega = 30 if activation == "sin" else 1
        self.init_weights()

    def init_weights(self):
        with torch.no_grad():
            if self.is_first:
                b = 1 / self.in_features
            else:
                b = np.sqrt(6 / self.in_features) / self.omega
            nn.init.uniform_(self.linear.weight, -b, b)

    def forward(self, input):
        return self.torch_activation(self.omega * self.linear(input))


# We've implemented the model for you - you need to implement SingleLayer above
class Siren(nn.Module):
    def __init__(self, in_features, out_features, hidden_features, hidden_layers, activation):
        super().__init__()
        self.net = []
        self.net.append(SingleLayer(in_features, hidden_features, activation, bias=True, is_first=True))
        for i in range(hidden_layers):
            self.net.append(SingleLayer(hidden_features, hidden_features, activation, bias=True, is_first=False))
        self.net.append(SingleLayer(hidden_features, out_features, activation=None, bias=False, is_first=False))
        self.net = nn.Sequential(*self.net)

    def forward(self, coords):
        return self.net(coords)


class MyDataset(Dataset):
    def __init__(self, sidelength) -> None:
        super().__init__()
        self.sidelength = sidelength
        self.cameraman_img = get_cameraman_tensor(sidelength)
        self.coords = get_coords(sidelength)
        # print(self.coords.shape, self.cameraman_img.shape)

    def __len__(self):
        return self.sidelength * self.sidelength

    def __getitem__(self, idx):
        return self.coords[idx], self.cameraman_img[idx]


def train(total_epochs, batch_size, activation, hidden_size=32, hidden_layer=7):
    # load dataset
    dataset = MyDataset(sidelength=256)
    dataloader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True)

    # create model
    siren_model = Siren(in_features=2, out_features=1,
                        hidden_features=hidden_size, hidden_layers=hidden_layer,
                        activation=activation)

    # set learning rate
    learning_rate = 1e-4

    # print model information
    print(siren_model)

    # set optimizer
    optim = torch.optim.Adam(lr=learning_rate, params=siren_model.parameters())

    # train model
    losses = []
    for epoch in range(total_epochs):
        total_loss = 0
        for batch in dataloader:
            coords, pixels = batch
            model_output = siren_model(coords)
            loss = ((model_output - pixels) ** 2).mean()
            optim.zero_grad()
            loss.backward()
            optim.step()
            total_loss += loss.item()
        if epoch % 10 == 0:
            print("Epoch %d, Total loss %0.6f" % (epoch, total_loss / len(dataloader)))
        losses.append(total_loss / len(dataloader))

    # save model
    torch.save(siren_model.state_dict(), "siren_model.p")

    # plot results
    fig, axes = plt.subplots(1, 4, figsize=(18, 6))
    img, grad, lap = model_results(siren_model)
    axes[0].imshow(img, cmap="gray")
    axes[0].set_title("Fitted image")
    axes[1].imshow(grad, cmap="gray")
    axes[1].set_title("Gradient")
    axes[2].imshow(lap, cmap="gray")
    axes[2].set_title("Laplacian")
    axes[3].plot(np.log10(losses))
    axes[3].set_title("log10 training loss")
    plt.savefig(f"siren_{activation}.png")
    plt.show()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train a SIREN on the cameraman image.")
    parser.add_argument("-e", "--total_epochs", required=True, type=int)
    parser.add_argument("-b", "--batch_size", required=True, type=int)
    parser.add_argument("-a", "--activation", required=True, choices=["relu", "sin", "tanh"])
    args = parser.parse_args()
    train(args.total_epochs, args.batch_size, args.activation)

"""Helpers for fitting the camera image with a coordinate network.

The image is the grayscale "camera" photograph of scikit-image's data (by Lav
Varshney, CC0), shipped as a 256×256 PNG. It is looked for in the folder of
this file, then in ``data/`` one level up; the environment variable
``SIREN_IMAGE`` names another file instead.

Pixels and coordinates are flattened in the same row-major order: entry
``k = i * s + j`` of both is row ``i``, column ``j`` of an ``s × s`` image.
"""

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGE_NAME = "camera-256.png"


def image_path():
    """Return the path of the camera PNG (``SIREN_IMAGE`` wins when set)."""
    override = os.environ.get("SIREN_IMAGE")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    for candidate in (here / IMAGE_NAME, here.parent / "data" / IMAGE_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{IMAGE_NAME} is neither beside {here} nor in {here.parent / 'data'}; "
        "set SIREN_IMAGE to its path"
    )


def get_coords(sidelength, dim=2):
    """Return the ``(sidelength**dim, dim)`` float32 grid of coordinates in [-1, 1].

    Column 0 is the row coordinate and column 1 the column coordinate, both
    running from -1 to 1 in ``sidelength`` evenly spaced steps.
    """
    axes = dim * [torch.linspace(-1, 1, steps=sidelength)]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1)
    return grid.reshape(-1, dim)


def get_cameraman_tensor(sidelength):
    """Return the camera image as a ``(sidelength**2, 1)`` float32 tensor in [-1, 1].

    The PNG is resized with PIL's bilinear filter when ``sidelength`` differs
    from its own size; pixel value ``p`` in 0..255 becomes ``2 * p / 255 - 1``.
    """
    with Image.open(image_path()) as img:
        img = img.convert("L")
        if img.size != (sidelength, sidelength):
            img = img.resize((sidelength, sidelength), Image.BILINEAR)
        pixels = np.asarray(img, dtype=np.float32)
    pixels = pixels / 255.0 * 2.0 - 1.0
    return torch.from_numpy(pixels).reshape(-1, 1)


def gradient(y, x, grad_outputs=None):
    """Return ``dy/dx`` for every point, keeping the graph for higher derivatives.

    ``y`` is ``(P, 1)`` and ``x`` the ``(P, 2)`` input it was computed from,
    with ``requires_grad`` set; the result has the shape of ``x``.
    """
    if grad_outputs is None:
        grad_outputs = torch.ones_like(y)
    return torch.autograd.grad(y, [x], grad_outputs=grad_outputs, create_graph=True)[0]


def divergence(y, x):
    """Return ``sum_i dy_i/dx_i`` of a vector field ``y(x)`` as a ``(P, 1)`` tensor."""
    div = 0.0
    for i in range(y.shape[-1]):
        component = torch.autograd.grad(
            y[..., i], x, torch.ones_like(y[..., i]), create_graph=True
        )[0]
        div = div + component[..., i : i + 1]
    return div


def laplace(y, x):
    """Return the Laplacian of a scalar field ``y(x)``, ``div(grad y)``."""
    return divergence(gradient(y, x), x)


def model_results(model, sidelength=256):
    """Return the fitted image, its gradient norm and its Laplacian as arrays.

    The model is evaluated on the ``sidelength × sidelength`` grid; each of the
    three results is a ``(sidelength, sidelength)`` numpy array, ready for
    ``plt.imshow``.
    """
    coords = get_coords(sidelength).clone().requires_grad_(True)
    output = model(coords)
    grad = gradient(output, coords)
    lap = laplace(output, coords)
    shape = (sidelength, sidelength)
    return (
        output.detach().reshape(shape).numpy(),
        grad.norm(dim=-1).detach().reshape(shape).numpy(),
        lap.detach().reshape(shape).numpy(),
    )

# The student's own copy, edited while experimenting: the grader must not use it.
import torch


def get_coords(sidelength, dim=2):
    grid = torch.arange(sidelength, dtype=torch.float32)
    axes = torch.meshgrid(*(dim * [grid]), indexing="ij")
    return torch.stack(axes, dim=-1).reshape(-1, dim)


def get_cameraman_tensor(sidelength):
    return torch.zeros(sidelength * sidelength, 1)


def model_results(model, sidelength=256):
    raise RuntimeError("this copy of siren_utils must not be used by the grader")

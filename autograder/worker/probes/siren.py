"""Worker side of part 5: ``SingleLayer``, its initialisation, ``MyDataset``
and the image fit of ``train``.

The student's ``siren.py`` imports ``siren_utils`` from the grader's
``provided/`` folder, which comes before the submission on ``sys.path``; the
student's own copy is never used.

The fit runs the student's ``train(total_epochs, batch_size, activation)``
unchanged at a side length the grader chooses (``fit_at``):

- ``MyDataset`` is replaced, for the run, by a subclass whose ``__init__``
  passes the grader's side length whatever ``train`` asked for;
- ``get_coords`` and ``get_cameraman_tensor`` of ``siren_utils``, and every
  name of the student's module bound to them, give the grader's side length
  whatever they are asked, so a dataset that ignores its argument is still
  small;
- ``model_results`` records the model it receives and evaluates it at the
  grader's side length, still returning three ``(s, s)`` arrays as the
  course file does (zeros for the derivatives if they cannot be computed);
- ``plt.show`` and ``plt.pause`` do nothing and every figure is closed at
  the end (the worker also runs matplotlib's ``Agg`` backend);
- what ``train`` prints is captured and only its last lines are kept (a
  training loop prints a line an epoch), with its first distinct warnings.

The trained model is the last one ``model_results`` received or, failing
that, the ``siren_model.p`` that ``train`` saved in the working folder. The
grader sends its own coordinate grid; the probe returns the model's
predictions there, and the grader computes the PSNR.

``fit_at`` imports nothing from the grader, so a benchmark or a test can run
the reference ``train`` through it in-process, exactly as it is graded.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import numbers
import os
import random
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import Context, ProbeRefused, load_module, lookup, probe, to_student

MODEL_FILE = "siren_model.p"
PRINTED_LINES = 3  # of what train printed, the last lines are kept
UTILS = "siren_utils"
OMEGA_NAMES = ("omega", "omega_0", "omega0", "w0")
HIDDEN_DEFAULTS = {"hidden_size": 32, "hidden_layer": 7}


def _linears(layer) -> list:
    import torch

    return [
        (name, m) for name, m in layer.named_modules() if isinstance(m, torch.nn.Linear)
    ]


def _build_layer(context: Context, module: str, function: str, args: list):
    cls = lookup(context, module, function)
    return cls(*to_student(args))


def _single_linear(layer, args: list):
    found = _linears(layer)
    if len(found) != 1:
        raise ProbeRefused(
            "structure",
            f"SingleLayer{tuple(args)} holds {len(found)} nn.Linear modules; "
            "expected exactly one",
        )
    return found[0][1]


def _omega(layer) -> tuple[str | None, float | None]:
    """The layer's omega and the attribute it is kept in, when there is one."""
    for name in OMEGA_NAMES:
        try:
            value = getattr(layer, name)
        except AttributeError:
            continue
        if hasattr(value, "numel") and value.numel() == 1:
            value = value.item()
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return name, float(value)
    return None, None


@probe("siren.layer")
def describe_layer(context: Context, module: str, function: str, args: list) -> dict:
    """Build ``SingleLayer(*args)``; return its linear modules and omega."""
    layer = _build_layer(context, module, function, args)
    linears = [
        {
            "name": name,
            "in_features": int(m.in_features),
            "out_features": int(m.out_features),
            "bias": m.bias is not None,
        }
        for name, m in _linears(layer)
    ]
    omega_name, omega = _omega(layer)
    return {"linears": linears, "omega_name": omega_name, "omega": omega}


@probe("siren.layer_forward")
def layer_forward(
    context: Context, module: str, function: str, args: list, weight, bias, inputs
) -> Any:
    """Build ``SingleLayer(*args)`` in float64, give its linear the grader's
    weight and bias (0 for a bias it should not have), and return
    ``forward(inputs)``."""
    import torch

    layer = _build_layer(context, module, function, args)
    linear = _single_linear(layer, args)
    layer.double()
    with torch.no_grad():
        linear.weight.copy_(to_student(weight))
        if linear.bias is not None and bias is not None:
            linear.bias.copy_(to_student(bias))
        elif linear.bias is not None:
            linear.bias.zero_()  # a bias the layer should not have: 5.1.1 says so
        return layer(to_student(inputs))


@probe("siren.init_weights")
def init_weights(context: Context, module: str, function: str, args: list) -> dict:
    """The weight of ``SingleLayer(*args)`` as built, and after one more
    call of its ``init_weights()`` (None when it has no such method)."""
    layer = _build_layer(context, module, function, args)
    linear = _single_linear(layer, args)
    built = linear.weight.detach().clone()
    again = None
    if callable(getattr(layer, "init_weights", None)):
        layer.init_weights()
        again = linear.weight.detach().clone()
    return {"built": built, "again": again}


@probe("siren.dataset")
def dataset_items(
    context: Context, module: str, function: str, sidelength: int, indices: list[int]
) -> dict:
    """``len(MyDataset(sidelength))`` and its items at ``indices``."""
    cls = lookup(context, module, function)
    dataset = cls(sidelength)
    return {"length": len(dataset), "items": [dataset[i] for i in indices]}


@dataclass
class Fit:
    """What one graded run of ``train`` left behind."""

    model: Any = None
    source: str = ""  # "model_results" or MODEL_FILE
    seconds: float = 0.0
    datasets: list = field(default_factory=list)
    models: list = field(default_factory=list)
    error: BaseException | None = None
    printed: list[str] = field(default_factory=list)  # the last lines printed
    warnings: list[str] = field(default_factory=list)  # distinct, first ones


@contextlib.contextmanager
def _swapped(changes: list[tuple[Any, str, Any]]) -> Iterator[None]:
    """Set every ``owner.name = value`` for the block, then put them back."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in changes]
    try:
        for owner, name, value in changes:
            setattr(owner, name, value)
        yield
    finally:
        for owner, name, value in reversed(saved):
            setattr(owner, name, value)


def _dataset_at(original: type, sidelength: int, run: Fit) -> type:
    """A subclass of the student's dataset built at ``sidelength`` always."""
    try:
        parameters = list(inspect.signature(original.__init__).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    first = parameters[1].name if len(parameters) > 1 else None
    if first is not None and parameters[1].kind not in named:
        first = None

    class GradedDataset(original):
        def __init__(self, *args, **kwargs):
            if args:
                args = (sidelength, *args[1:])
            elif first is not None:
                kwargs[first] = sidelength
            super().__init__(*args, **kwargs)
            run.datasets.append(self)

    GradedDataset.__name__ = original.__name__
    GradedDataset.__qualname__ = original.__qualname__
    return GradedDataset


def _utils_at(utils, sidelength: int, run: Fit) -> dict[str, Any]:
    """Stand-ins of the helpers, at ``sidelength``, by their names."""
    import numpy as np

    get_coords = utils.get_coords
    get_pixels = utils.get_cameraman_tensor
    results = utils.model_results

    def coords_at(sidelength_asked=None, dim=2):
        return get_coords(sidelength, dim)

    def pixels_at(sidelength_asked=None):
        return get_pixels(sidelength)

    def results_of(model, *args, **kwargs):
        run.models.append(model)
        try:
            return results(model, sidelength=sidelength)
        except Exception:  # noqa: BLE001 - the plots are no part of the grade
            image = np.zeros((sidelength, sidelength), dtype=np.float32)
            return image, image.copy(), image.copy()

    return {
        "get_coords": coords_at,
        "get_cameraman_tensor": pixels_at,
        "model_results": results_of,
    }


def _changes(student, utils, sidelength: int, run: Fit) -> list:
    """Every attribute to swap for a graded run of ``train``."""
    changes = []
    stand_ins = _utils_at(utils, sidelength, run)
    for name, value in stand_ins.items():
        original = getattr(utils, name)
        changes.append((utils, name, value))
        for bound, held in vars(student).items():
            if held is original:
                changes.append((student, bound, value))
    dataset = getattr(student, "MyDataset", None)
    if isinstance(dataset, type):
        changes.append((student, "MyDataset", _dataset_at(dataset, sidelength, run)))
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        plt = None
    if plt is not None:
        changes.append((plt, "show", lambda *args, **kwargs: None))
        changes.append((plt, "pause", lambda *args, **kwargs: None))
    return changes


@contextlib.contextmanager
def _captured(output: io.StringIO, run: Fit) -> Iterator[None]:
    """Send stdout and stderr to ``output``; keep the distinct warnings."""
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(output),
        contextlib.redirect_stderr(output),
    ):
        warnings.simplefilter("default")
        try:
            yield
        finally:
            for warning in caught:
                text = f"{warning.category.__name__}: {warning.message}"[:300]
                if text not in run.warnings and len(run.warnings) < PRINTED_LINES:
                    run.warnings.append(text)


def _reseed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _saved_model(student, train, activation: str):
    """The model of ``siren_model.p`` (a state dict or a whole module)."""
    import torch

    if not os.path.isfile(MODEL_FILE):
        return None
    try:
        saved = torch.load(MODEL_FILE, weights_only=True)
    except Exception:  # noqa: BLE001 - a whole pickled module needs the full loader
        saved = torch.load(MODEL_FILE, weights_only=False)
    if isinstance(saved, torch.nn.Module):
        return saved
    sizes = dict(HIDDEN_DEFAULTS)
    try:
        for name, parameter in inspect.signature(train).parameters.items():
            if name in sizes and isinstance(parameter.default, int):
                sizes[name] = parameter.default
    except (TypeError, ValueError):
        pass
    model = student.Siren(2, 1, sizes["hidden_size"], sizes["hidden_layer"], activation)
    model.load_state_dict(saved)
    return model


def fit_at(
    student,
    utils,
    sidelength: int,
    epochs: int,
    activation: str,
    seed: int,
    batch_size: int | None = None,
) -> Fit:
    """Run ``student.train(epochs, batch_size, activation)`` at ``sidelength``.

    The batch is the whole image unless ``batch_size`` is given. An
    exception of ``train`` is kept in ``Fit.error``; the model it trained
    before raising is still returned when it reached ``model_results`` or
    was saved.
    """
    run = Fit()
    if os.path.exists(MODEL_FILE):
        os.remove(MODEL_FILE)
    batch = batch_size or sidelength * sidelength
    output = io.StringIO()
    with _swapped(_changes(student, utils, sidelength, run)), _captured(output, run):
        _reseed(seed)
        started = time.perf_counter()
        try:
            student.train(epochs, batch, activation)
        except Exception as exc:  # noqa: BLE001 - the student's code may raise anything
            run.error = exc
        finally:
            run.seconds = time.perf_counter() - started
            _close_figures()
    lines = output.getvalue().replace("\r", "\n").splitlines()
    run.printed = [line[:200] for line in lines if line.strip()][-PRINTED_LINES:]
    if run.models:
        run.model, run.source = run.models[-1], "model_results"
        return run
    try:
        run.model = _saved_model(student, student.train, activation)
    except Exception:  # noqa: BLE001 - a file that does not load is no model
        if run.error is None:
            raise
    run.source = MODEL_FILE if run.model is not None else ""
    return run


def _close_figures() -> None:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.close("all")


def _own_pairs(dataset) -> dict | None:
    """The dataset's inputs and targets, when they are vectors of 2 and 1."""
    import torch

    try:
        items = [dataset[i] for i in range(len(dataset))]
        inputs = torch.stack([torch.as_tensor(item[0]) for item in items])
        targets = torch.stack([torch.as_tensor(item[1]) for item in items])
    except Exception:  # noqa: BLE001 - a diagnostic only
        return None
    if inputs.ndim != 2 or inputs.shape[1] != 2:
        return None
    return {"inputs": inputs.float(), "targets": targets.reshape(len(items), -1)}


def predict(model, inputs):
    """The model's outputs at ``inputs`` (a float32 tensor), without gradients."""
    import torch

    with torch.no_grad():
        return model(inputs)


@probe("siren.fit")
def graded_fit(
    context: Context,
    module: str,
    function: str,
    sidelength: int,
    epochs: int,
    activation: str,
    seed: int,
    coords,
) -> dict:
    """Run the student's ``train`` at the grader's budget; return the
    trained model's predictions at the grader's ``coords``, where the model
    was found, the seconds ``train`` took, and the predictions on the inputs
    of the student's own dataset (for a diagnosis)."""
    student = load_module(context, module)
    if not callable(lookup(context, module, function)):
        raise ProbeRefused("not-callable", f"{module}.{function} is not a function")
    utils = importlib.import_module(UTILS)
    outcome = fit_at(student, utils, sidelength, epochs, activation, seed)
    if outcome.model is None:
        if outcome.error is not None:
            raise outcome.error
        raise ProbeRefused(
            "no-model",
            f"train neither passed its model to model_results nor saved "
            f"{MODEL_FILE}; the grader finds the trained model through one of them",
        )
    reply = {
        "prediction": predict(outcome.model, to_student(coords)),
        "source": outcome.source,
        "seconds": outcome.seconds,
        "printed": outcome.printed,
        "warnings": outcome.warnings,
        "error": None,
        "own": None,
    }
    if outcome.error is not None:
        reply["error"] = f"{type(outcome.error).__name__}: {outcome.error}"[:500]
    if outcome.datasets:
        pairs = _own_pairs(outcome.datasets[-1])
        if pairs is not None:
            reply["own"] = {
                "prediction": predict(outcome.model, pairs["inputs"]),
                "targets": pairs["targets"],
                "low": float(pairs["inputs"].min()),
                "high": float(pairs["inputs"].max()),
            }
    return reply

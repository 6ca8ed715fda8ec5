"""Worker side of part 4: building the student's ``Block`` and ``ResNet``,
describing their structure, and running them with the grader's parameters.

Students name their submodules freely, so modules are matched by kind and
order of registration: the n-th ``Conv2d`` of the student's model (in the
order of ``model.modules()``) receives the parameters of the n-th
``Conv2d`` of the reference, and so on for every kind. A module's kind is
the class of ``torch.nn`` it is or derives from (a student's subclass of
``nn.Conv2d`` is a ``Conv2d``); the student's own classes keep their name.

``describe`` is plain Python over a module and is also used by the grader on
the reference model, so that both descriptions come from the same code.
"""

from __future__ import annotations

from typing import Any

from . import Context, ProbeRefused, lookup, probe, to_student

# What ``describe`` reports of each kind, beyond parameters and buffers.
SETTINGS = {
    "Conv2d": (
        "in_channels",
        "out_channels",
        "kernel_size",
        "stride",
        "padding",
        "dilation",
        "groups",
        "padding_mode",
    ),
    "BatchNorm2d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "Linear": ("in_features", "out_features"),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "AvgPool2d": ("kernel_size", "stride", "padding"),
    "AdaptiveAvgPool2d": ("output_size",),
    "AdaptiveMaxPool2d": ("output_size",),
}
# Buffers that hold parameters of the computation (a count does not).
LOADED_BUFFERS = ("running_mean", "running_var")


def kind_of(module) -> str:
    """The name of the ``torch.nn`` class a module is, or its own class name."""
    for cls in type(module).__mro__:
        if cls.__module__.startswith("torch.nn") and cls.__name__ != "Module":
            return cls.__name__
    return type(module).__name__


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def tensor_shapes(module) -> dict[str, list[int]]:
    """Shapes of the module's own parameters and loaded buffers, by name."""
    shapes = {name: list(p.shape) for name, p in module.named_parameters(recurse=False)}
    for name, buffer in module.named_buffers(recurse=False):
        if name in LOADED_BUFFERS and buffer is not None:
            shapes[name] = list(buffer.shape)
    return shapes


def describe(model, block_class: type | None = None) -> dict:
    """The structure of ``model`` as plain data.

    ``modules`` lists every submodule in registration order with its name,
    kind, settings (see ``SETTINGS``), whether it has a bias, the shapes of
    its own parameters and loaded buffers, and whether it is an instance of
    ``block_class``; ``parameters`` is the model's parameter count.
    """
    modules = []
    for name, module in model.named_modules():
        if module is model:
            continue
        kind = kind_of(module)
        entry = {
            "name": name,
            "kind": kind,
            "leaf": not any(True for _ in module.children()),
            "block": block_class is not None and isinstance(module, block_class),
            "settings": {
                key: _plain(getattr(module, key, None))
                for key in SETTINGS.get(kind, ())
            },
            "tensors": tensor_shapes(module),
            "parameters": int(sum(p.numel() for p in module.parameters(recurse=False))),
        }
        if kind in ("Conv2d", "Linear"):
            entry["settings"]["bias"] = getattr(module, "bias", None) is not None
        modules.append(entry)
    return {
        "modules": modules,
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }


def loaded_modules(model) -> list[tuple[str, Any]]:
    """(name, module) of the modules that receive parameters, in
    registration order."""
    return [(n, m) for n, m in model.named_modules() if tensor_shapes(m)]


def load(model, state: list[dict]) -> None:
    """Give the n-th module of each kind the n-th entry of that kind.

    ``state`` lists ``{"kind": ..., "tensors": {name: array}}`` in the
    reference's registration order. Refused when the kinds, counts, names
    or shapes do not line up, or when a parameter would keep its own value.
    """
    import torch

    targets = [module for _, module in loaded_modules(model)]
    if [kind_of(m) for m in targets] != [entry["kind"] for entry in state]:
        raise ProbeRefused(
            "structure",
            "the modules with parameters are "
            + ", ".join(kind_of(m) for m in targets)
            + "; the grader expected "
            + ", ".join(entry["kind"] for entry in state),
        )
    with torch.no_grad():
        for index, (module, entry) in enumerate(zip(targets, state, strict=True)):
            own = tensor_shapes(module)
            missing = sorted(set(own) - set(entry["tensors"]))
            if missing:
                raise ProbeRefused(
                    "structure",
                    f"{entry['kind']} #{index + 1} has {', '.join(missing)}, "
                    "which the grader has no value for",
                )
            for name, value in entry["tensors"].items():
                target = getattr(module, name, None)
                tensor = torch.as_tensor(to_student(value))
                if target is None or tuple(target.shape) != tuple(tensor.shape):
                    raise ProbeRefused(
                        "structure",
                        f"{entry['kind']} #{index + 1} has no {name} of shape "
                        f"{tuple(tensor.shape)}",
                    )
                target.copy_(tensor)


def _build(context: Context, module: str, function: str, args: list):
    cls = lookup(context, module, function)
    return cls(*to_student(args))


def _block_class(context: Context, module: str) -> type | None:
    try:
        found = lookup(context, module, "Block")
    except ProbeRefused:
        return None
    return found if isinstance(found, type) else None


@probe("resnet.describe")
def describe_model(context: Context, module: str, function: str, args: list) -> dict:
    """Build ``function(*args)`` (a class of the student's module) and
    describe it."""
    model = _build(context, module, function, args)
    return describe(model, _block_class(context, module))


@probe("resnet.forward")
def forward(
    context: Context,
    module: str,
    function: str,
    args: list,
    inputs,
    training: bool,
    state: list[dict] | None = None,
) -> Any:
    """Build ``function(*args)``; with ``state``, in float64 with the
    grader's parameters; return the output on ``inputs`` in train or eval
    mode."""
    import torch

    model = _build(context, module, function, args)
    if state is not None:
        model.double()
        load(model, state)
    model.train(training)
    with torch.no_grad():
        return model(to_student(inputs))

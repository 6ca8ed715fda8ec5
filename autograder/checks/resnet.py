"""Checks of part 4, a small ResNet (``resnet.py``).

The worker builds the student's ``Block`` and ``ResNet`` and describes them
as plain data (``resnet.describe``); the grader describes the reference
model of ``solutions/resnet.py`` with the same code and compares the two.
Students name their submodules freely, so modules are matched by kind and
order of registration, and feedback names a module by its kind, its rank
among the modules of that kind, and the student's attribute path.

For the outputs, the grader draws every parameter and running statistic of
the reference model from the test's seed, gives the student's model the
same ones (the n-th module of each kind gets those of the reference's n-th)
in float64, and compares the outputs in train and in eval mode. A
convolution bias that the reference does not have is set to 0 there: that
mistake costs the structure test, not this one.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..worker.probes import resnet as resnet_probe
from ..worker.protocol import TensorArray
from . import Verdict, cases, check
from .values import as_array, fmt, require_finite, worst_difference

# Modules without parameters the structure test looks at when the student
# registered them (pooling may also be done with functions in forward).
OPTIONAL_KINDS = ("MaxPool2d", "AdaptiveAvgPool2d")
# The reference's modules by their place, for feedback (keys: the class
# built and the reference's attribute path).
ROLES = {
    ("Block", "conv1"): "the first convolution",
    ("Block", "bn1"): "the first BatchNorm2d",
    ("Block", "conv2"): "the second convolution",
    ("Block", "bn2"): "the second BatchNorm2d",
    ("ResNet", "conv"): "the stem's convolution",
    ("ResNet", "bn"): "the stem's BatchNorm2d",
    ("ResNet", "block.conv1"): "the Block's first convolution",
    ("ResNet", "block.bn1"): "the Block's first BatchNorm2d",
    ("ResNet", "block.conv2"): "the Block's second convolution",
    ("ResNet", "block.bn2"): "the Block's second BatchNorm2d",
    ("ResNet", "fc"): "the linear head",
}
ORDER_HINT = (
    "the {kind} modules are all there but in another order: they are matched "
    "in the order __init__ registers them, which must follow the forward pass"
)
WHY = {
    ("Conv2d", "bias"): "the convolutions have no bias: the BatchNorm2d after "
    "each one has its own shift",
    ("Conv2d", "kernel_size"): "every convolution is 3×3",
    ("Conv2d", "padding"): "padding 1 keeps the size of a 3×3 convolution's output",
    ("Conv2d", "stride"): "the stem's convolution has stride 2, the block's stride 1",
}


def _args_text(function: str, args) -> str:
    return f"{function}({', '.join(str(a) for a in args)})"


def _reference(ctx, function: str, args):
    return getattr(ctx.reference, function)(*args)


def _describe_reference(ctx, function: str, args) -> dict:
    return resnet_probe.describe(_reference(ctx, function, args), ctx.reference.Block)


def _describe_student(ctx, function: str, args) -> dict:
    return cases.probe(
        ctx, "resnet.describe", module=ctx.module, function=function, args=list(args)
    )


def _of_kind(description: dict, kind: str) -> list[dict]:
    return [m for m in description["modules"] if m["kind"] == kind]


def _loaded(description: dict) -> list[dict]:
    return [m for m in description["modules"] if m["tensors"]]


def _name(module: dict, rank: int) -> str:
    return f"{module['kind']} #{rank} (`{module['name']}`)"


def _kinds_text(modules: list[dict]) -> str:
    return ", ".join(f"`{m['name']}`" for m in modules) or "none"


# 4.1.1 shapes


def _shape_case(ctx, function: str, args, shape, expected_shape):
    label = f"{_args_text(function, args)} on input {tuple(shape)}"
    inputs = ctx.rng.standard_normal(shape).astype(np.float32)

    def judge():
        found = cases.probe(
            ctx,
            "resnet.forward",
            module=ctx.module,
            function=function,
            args=list(args),
            inputs=TensorArray(inputs),
            training=True,
        )
        found = as_array(found, label, f"a tensor of shape {expected_shape}")
        if found.shape != tuple(expected_shape):
            return f"output shape {found.shape}, expected {tuple(expected_shape)}"
        require_finite(found, label)
        return None

    return label, judge


@check("resnet.shapes")
def shapes(ctx) -> Verdict:
    """Output shapes of Block and ResNet for several sizes."""
    runs = []
    for channels, batch, height, width in ctx.param("blocks"):
        shape = (batch, channels, height, width)
        runs.append(_shape_case(ctx, "Block", [channels], shape, shape))
    for channels, classes, batch in ctx.param("resnets"):
        args = [channels] if classes is None else [channels, classes]
        expected = (batch, 10 if classes is None else classes)
        runs.append(_shape_case(ctx, "ResNet", args, (batch, 1, 8, 8), expected))
    return cases.run("shapes", runs, True).verdict()


# 4.1.2 parameter count


def _count_by_kind(description: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for module in description["modules"]:
        if module["parameters"]:
            counts[module["kind"]] = (
                counts.get(module["kind"], 0) + module["parameters"]
            )
    return counts


@check("resnet.parameter_count")
def parameter_count(ctx) -> Verdict:
    """The number of parameters of ResNet(C, K) for several sizes."""
    runs = []
    for channels, classes in ctx.param("sizes"):
        args = [channels, classes]
        label = _args_text("ResNet", args)

        def judge(args=args):
            found = _describe_student(ctx, "ResNet", args)
            expected = _describe_reference(ctx, "ResNet", args)
            if found["parameters"] == expected["parameters"]:
                return None
            yours = _count_by_kind(found)
            wanted = _count_by_kind(expected)
            differences = [
                f"{kind} {yours.get(kind, 0)}, expected {wanted.get(kind, 0)}"
                for kind in sorted(set(yours) | set(wanted))
                if yours.get(kind, 0) != wanted.get(kind, 0)
            ]
            return (
                f"{found['parameters']} parameters, expected {expected['parameters']} "
                "(18·C² + 15·C + K·C + K); by kind: " + "; ".join(differences)
            )

        runs.append((label, judge))
    return cases.run("ResNet", runs, True).verdict()


# 4.1.3 structure


def _settings_problems(
    found: dict, expected: dict, rank: int, told: set[str]
) -> list[str]:
    """Settings that differ; the reason for a setting is given once."""
    problems = []
    for key, value in expected["settings"].items():
        have = found["settings"].get(key)
        if have == value:
            continue
        why = WHY.get((expected["kind"], key))
        text = f"{_name(found, rank)} has {key}={_setting(have)}, expected "
        text += _setting(value)
        if why and why not in told:
            told.add(why)
            text += f" ({why})"
        problems.append(text)
    return problems


def _reordered(have: list[dict], want: list[dict], key: str) -> bool:
    """True when the modules differ in order only."""
    if len(have) != len(want) or all(
        h[key] == w[key] for h, w in zip(have, want, strict=True)
    ):
        return False
    return sorted(map(repr, (h[key] for h in have))) == sorted(
        map(repr, (w[key] for w in want))
    )


def _setting(value) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return str(value)


def structure_problems(function: str, found: dict, expected: dict) -> list[str]:
    """How the student's description of ``function(...)`` differs from the
    reference's, by kind and order of registration; the modules are named."""
    problems: list[str] = []
    told: set[str] = set()
    loaded_kinds = {m["kind"] for m in _loaded(expected)} | {
        m["kind"] for m in _loaded(found)
    }
    kinds = sorted(loaded_kinds) + [
        kind for kind in OPTIONAL_KINDS if _of_kind(found, kind)
    ]
    for kind in kinds:
        yours, wanted = _of_kind(found, kind), _of_kind(expected, kind)
        if len(yours) != len(wanted):
            problems.append(
                f"{len(yours)} {kind} module(s) ({_kinds_text(yours)}), expected "
                f"{len(wanted)} ({_roles(function, wanted) or 'none'})"
            )
            continue
        for rank, (have, want) in enumerate(zip(yours, wanted, strict=True), 1):
            problems += _settings_problems(have, want, rank, told)
        if _reordered(yours, wanted, "settings"):
            problems.append(ORDER_HINT.format(kind=kind))
    blocks = [m for m in found["modules"] if m["block"]]
    if len([m for m in expected["modules"] if m["block"]]) != len(blocks):
        problems.append(
            f"{len(blocks)} Block module(s) ({_kinds_text(blocks)}), expected 1: "
            "the ResNet holds one Block(C)"
        )
    return problems


@check("resnet.structure")
def structure(ctx) -> Verdict:
    """Block: two 3×3 convolutions without bias, two BatchNorm2d; ResNet:
    the stem, pooling, one Block and the linear head."""
    channels, classes = ctx.param("size")
    runs = []
    for function, args in (("Block", [channels]), ("ResNet", [channels, classes])):
        label = _args_text(function, args)

        def judge(function=function, args=args):
            found = _describe_student(ctx, function, args)
            expected = _describe_reference(ctx, function, args)
            problems = structure_problems(function, found, expected)
            return "; ".join(problems) if problems else None

        runs.append((label, judge))
    return cases.run("structure", runs, True).verdict()


# 4.1.4 and 4.1.5 outputs under the same parameters


def draw_parameters(rng: np.random.Generator, model) -> list[dict]:
    """Random values of every loaded tensor of ``model``, in registration
    order, as ``{"kind", "name", "tensors"}``; batch norms get a positive
    scale and variance."""
    drawn = []
    for name, module in resnet_probe.loaded_modules(model):
        kind = resnet_probe.kind_of(module)
        tensors = {}
        for tensor, shape in resnet_probe.tensor_shapes(module).items():
            if tensor == "running_var" or (
                kind == "BatchNorm2d" and tensor == "weight"
            ):
                value = rng.uniform(0.5, 1.5, shape)
            elif tensor in ("bias", "running_mean"):
                value = rng.uniform(-0.5, 0.5, shape)
            else:
                fan_in = int(np.prod(shape[1:])) or 1
                value = rng.standard_normal(shape) / np.sqrt(fan_in)
            tensors[tensor] = value
        drawn.append({"kind": kind, "name": name, "tensors": tensors})
    return drawn


def set_parameters(model, state: list[dict]) -> None:
    """Load ``state`` (as drawn) into a reference model in float64."""
    model.double()
    with torch.no_grad():
        for (_, module), entry in zip(
            resnet_probe.loaded_modules(model), state, strict=True
        ):
            for name, value in entry["tensors"].items():
                getattr(module, name).copy_(torch.from_numpy(value))


def _role(function: str, entry: dict, rank: int) -> str:
    """The reference's module as feedback names it: by its place."""
    place = ROLES.get((function, entry["name"]))
    return f"the reference's {entry['kind']} #{rank}" + (f" ({place})" if place else "")


def _roles(function: str, entries: list[dict]) -> str:
    return ", ".join(
        ROLES.get((function, entry["name"]), f"`{entry['name']}`") for entry in entries
    )


def match_parameters(
    function: str, found: dict, state: list[dict]
) -> tuple[list[dict], list[str], list[str]]:
    """The reference's parameters laid out for the student's model.

    The n-th student module of each kind gets the n-th reference entry of
    that kind. Returns the entries in the student's registration order, the
    problems that stop the comparison (naming the modules on both sides),
    and notes of what was set to 0.
    """
    by_kind: dict[str, list[dict]] = {}
    for entry in state:
        by_kind.setdefault(entry["kind"], []).append(entry)
    yours: dict[str, list[dict]] = {}
    for module in _loaded(found):
        yours.setdefault(module["kind"], []).append(module)
    problems = []
    for kind in sorted(set(by_kind) | set(yours)):
        have, want = yours.get(kind, []), by_kind.get(kind, [])
        if len(have) != len(want):
            problems.append(
                f"your {len(have)} {kind} module(s) ({_kinds_text(have)}) against "
                f"the reference's {len(want)} ({_roles(function, want) or 'none'})"
            )
    mapped, notes = [], []
    ranks: dict[str, int] = {}
    for module in _loaded(found):
        kind = module["kind"]
        ranks[kind] = rank = ranks.get(kind, 0) + 1
        if rank > len(by_kind.get(kind, [])):
            continue
        entry = by_kind[kind][rank - 1]
        name, other = _name(module, rank), _role(function, entry, rank)
        tensors = {}
        for tensor, shape in module["tensors"].items():
            value = entry["tensors"].get(tensor)
            if value is None and tensor == "bias" and kind == "Conv2d":
                tensors[tensor] = TensorArray(np.zeros(shape))
                notes.append(f"the bias of {name} was set to 0")
            elif value is None:
                problems.append(f"{name} has a {tensor}; {other} has none")
            elif list(value.shape) != list(shape):
                problems.append(
                    f"{name} has a {tensor} of shape {tuple(shape)} where {other} "
                    f"has {tuple(value.shape)}"
                )
            else:
                tensors[tensor] = TensorArray(value)
        for tensor in entry["tensors"]:
            if tensor not in module["tensors"]:
                problems.append(f"{name} has no {tensor}; {other} has one")
        mapped.append({"kind": kind, "tensors": tensors})
    for kind, have in yours.items():
        want = [{"tensors": _shapes(e["tensors"])} for e in by_kind.get(kind, [])]
        if _reordered(have, want, "tensors"):
            problems.append(ORDER_HINT.format(kind=kind))
    return mapped, problems, notes


def _shapes(tensors: dict) -> dict[str, list[int]]:
    return {name: list(value.shape) for name, value in tensors.items()}


def _block_guesses(block, x: torch.Tensor, training: bool) -> dict[str, torch.Tensor]:
    """What common slips in Block.forward compute, by their description."""
    modules = [module for _, module in resnet_probe.loaded_modules(block)]
    conv1, bn1, conv2, bn2 = modules

    def norm(h, bn):
        stats = bn.running_mean.clone(), bn.running_var.clone()
        return F.batch_norm(h, *stats, bn.weight, bn.bias, training=training)

    with torch.no_grad():
        h = torch.relu(norm(F.conv2d(x, conv1.weight, padding=1), bn1))
        f = norm(F.conv2d(h, conv2.weight, padding=1), bn2)
    return {
        "relu(f(x)): the skip connection x + … is missing": torch.relu(f),
        "x + f(x): the ReLU after the sum is missing": x + f,
        "relu(x + relu(f(x))): f ends with a ReLU it should not have": torch.relu(
            x + torch.relu(f)
        ),
    }


def _outputs(ctx, function: str, args, shape) -> list:
    """The cases of one model size, in train and eval mode."""
    reference = _reference(ctx, function, args)
    state = draw_parameters(ctx.rng, reference)
    x = ctx.rng.standard_normal(shape)
    tolerance = float(ctx.param("tolerance"))
    described: dict[str, dict] = {}
    runs = []
    for training in (True, False):
        mode = "train" if training else "eval"
        label = f"{_args_text(function, args)} in {mode} mode on input {tuple(shape)}"

        def judge(training=training, label=label):
            if "found" not in described:
                described["found"] = _describe_student(ctx, function, args)
            mapped, problems, notes = match_parameters(
                function, described["found"], state
            )
            if problems:
                return (
                    "its modules do not line up with the reference's by kind and "
                    "order of registration: " + "; ".join(problems)
                )
            value = cases.probe(
                ctx,
                "resnet.forward",
                module=ctx.module,
                function=function,
                args=list(args),
                inputs=TensorArray(x),
                training=training,
                state=mapped,
            )
            model = _reference(ctx, function, args)
            set_parameters(model, state)
            model.train(training)
            with torch.no_grad():
                expected = model(torch.from_numpy(x)).numpy()
            value = as_array(value, label, f"a tensor of shape {expected.shape}")
            if value.shape != expected.shape:
                return f"output shape {value.shape}, expected {expected.shape}"
            require_finite(value, label)
            scale = tolerance * max(1.0, float(np.max(np.abs(expected))))
            if np.allclose(value, expected, rtol=tolerance, atol=scale):
                return None
            gap, index = worst_difference(value, expected)
            problem = (
                f"output{list(index)} = {fmt(value[index])}, expected "
                f"{fmt(expected[index])} (difference {fmt(gap)})"
            )
            if function == "Block":
                set_parameters(model, state)
                for name, guess in _block_guesses(
                    model, torch.from_numpy(x), training
                ).items():
                    if np.allclose(value, guess.numpy(), rtol=tolerance, atol=scale):
                        return f"{problem}; it computes {name}"
            if notes:
                problem += f" ({'; '.join(notes)})"
            return problem

        runs.append((label, judge))
    return runs


@check("resnet.block_outputs")
def block_outputs(ctx) -> Verdict:
    """Block(C) equals the reference under the same parameters."""
    runs = []
    for channels, batch, height, width in ctx.param("cases"):
        runs += _outputs(ctx, "Block", [channels], (batch, channels, height, width))
    return cases.run("Block", runs, True).verdict()


@check("resnet.resnet_outputs")
def resnet_outputs(ctx) -> Verdict:
    """ResNet(C, K) equals the reference under the same parameters."""
    runs = []
    for channels, classes, batch in ctx.param("cases"):
        runs += _outputs(ctx, "ResNet", [channels, classes], (batch, 1, 8, 8))
    return cases.run("ResNet", runs, True).verdict()

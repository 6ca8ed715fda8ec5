"""Part 4 graded end to end: every feedback message of its tests, exactly.

The submissions are one template with a single mistake each, so that each
message can be read against the mistake that causes it.
"""

from __future__ import annotations

import pytest
from part_grading import feedback, grade_files, solution

TEMPLATE = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, num_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(num_channels, num_channels, 3, padding=1, bias={bias})
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, 3, padding=1, bias={bias})
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu({total})


class ResNet(nn.Module):
    def __init__(self, num_channels, num_classes=10):
        super().__init__()
{stem}
        self.block = Block(num_channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(num_channels, num_classes, bias={fc_bias})

    def forward(self, x):
        out = self.pool(torch.relu(self.bn(self.conv(x))))
        return self.fc(self.avgpool(self.block(out)).flatten(1))
"""
STEM = """\
        self.conv = nn.Conv2d(1, num_channels, 3, stride={stride}, padding=1, bias=False)
        self.bn = {stem_norm}
        self.pool = nn.MaxPool2d(2)"""
CORRECT = {
    "bias": False,
    "total": "x + out",
    "stride": 2,
    "stem_norm": "nn.BatchNorm2d(num_channels)",
    "fc_bias": True,
    "late_stem": False,
}


def variant(**changes) -> str:
    """The template with some of its pieces changed."""
    pieces = {**CORRECT, **changes}
    stem = STEM.format(**pieces)
    if pieces["late_stem"]:
        # The stem is registered after the block (and used before it).
        return TEMPLATE.format(**pieces, stem="").replace(
            "        self.avgpool", stem + "\n        self.avgpool"
        )
    return TEMPLATE.format(**pieces, stem=stem)


OWN_NAMES = """
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, num_channels):
        super().__init__()
        self.norm_a = nn.BatchNorm2d(num_channels)
        self.norm_b = nn.BatchNorm2d(num_channels)
        self.first = nn.Conv2d(num_channels, num_channels, 3, 1, 1, bias=False)
        self.second = nn.Conv2d(num_channels, num_channels, 3, 1, 1, bias=False)

    def forward(self, x):
        h = F.relu(self.norm_a(self.first(x)))
        return F.relu(self.norm_b(self.second(h)) + x)


class ResNet(nn.Module):
    def __init__(self, num_channels, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, num_channels, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(num_channels),
            nn.ReLU(),
        )
        self.res = Block(num_channels)
        self.head = nn.Linear(num_channels, num_classes)

    def forward(self, images):
        h = F.max_pool2d(self.stem(images), 2)
        return self.head(self.res(h).mean(dim=(2, 3)))
"""

SUBMISSIONS = {
    "reference": solution("resnet.py"),
    "template": variant(),
    "own_names": OWN_NAMES,
    "conv_bias": variant(bias=True),
    "no_skip": variant(total="out"),
    "no_stem_norm": variant(stem_norm="nn.Identity()"),
    "stride_one": variant(stride=1),
    "fc_no_bias": variant(fc_bias=False),
    "late_stem": variant(late_stem=True),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    results = {
        name: grade_files(tmp_path_factory, {"resnet.py": text}, "resnet")
        for name, text in SUBMISSIONS.items()
    }
    results["missing"] = grade_files(tmp_path_factory, {"notes.txt": "hi"}, "resnet")
    return results


PASSED = {
    "4.1.1": "6 of 6 cases correct.",
    "4.1.2": "3 of 3 cases correct.",
    "4.1.3": "2 of 2 cases correct.",
    "4.1.4": "4 of 4 cases correct.",
    "4.1.5": "4 of 4 cases correct.",
}


@pytest.mark.parametrize("submission", ["reference", "template", "own_names"])
@pytest.mark.parametrize("number", sorted(PASSED))
def test_a_correct_resnet_gets_full_marks_whatever_its_names(
    graded, submission, number
):
    test = graded[submission][number]
    assert test["score"] == test["max_score"] > 0
    assert feedback(test) == PASSED[number]


BIAS_WHY = (
    "(the convolutions have no bias: the BatchNorm2d after each one has its own shift)"
)
ORDER = (
    "the Conv2d modules are all there but in another order: they are matched "
    "in the order __init__ registers them, which must follow the forward pass"
)
LATE_STEM_OUTPUTS = (
    "ResNet: its modules do not line up with the reference's by kind and order "
    "of registration: Conv2d #1 (`block.conv1`) has a weight of shape {wide} "
    "where the reference's Conv2d #1 (the stem's convolution) has {narrow}; "
    "Conv2d #3 (`conv`) has a weight of shape {narrow} where the reference's "
    "Conv2d #3 (the Block's second convolution) has {wide}; " + ORDER
)

FAILED = [
    (
        "missing",
        "4.1.3",
        0,
        "resnet.py was not found in your submission (it holds: notes.txt)",
    ),
    (
        "conv_bias",
        "4.1.2",
        0,
        "0 of 3 cases correct.\n"
        "ResNet(8, 10): 1378 parameters, expected 1362 (18·C² + 15·C + K·C + K); "
        "by kind: Conv2d 1240, expected 1224\n"
        "ResNet(4, 3): 371 parameters, expected 363 (18·C² + 15·C + K·C + K); "
        "by kind: Conv2d 332, expected 324\n"
        "ResNet(16, 10): 5050 parameters, expected 5018 (18·C² + 15·C + K·C + K); "
        "by kind: Conv2d 4784, expected 4752",
    ),
    (
        "conv_bias",
        "4.1.3",
        0,
        "0 of 2 cases correct.\n"
        f"Block(8): Conv2d #1 (`conv1`) has bias=True, expected False {BIAS_WHY}; "
        "Conv2d #2 (`conv2`) has bias=True, expected False\n"
        "ResNet(8, 10): Conv2d #2 (`block.conv1`) has bias=True, expected False "
        f"{BIAS_WHY}; Conv2d #3 (`block.conv2`) has bias=True, expected False",
    ),
    # A bias the reference lacks is set to 0 for the outputs: only 4.1.2 and
    # 4.1.3 count the mistake.
    ("conv_bias", "4.1.4", 2, "4 of 4 cases correct."),
    ("conv_bias", "4.1.5", 2, "4 of 4 cases correct."),
    (
        "no_skip",
        "4.1.4",
        0,
        "0 of 4 cases correct.\n"
        "Block(8) in train mode on input (4, 8, 6, 6): output[3, 0, 0, 1] = "
        "0.651468, expected 3.74136 (difference 3.08989); it computes relu(f(x)): "
        "the skip connection x + … is missing\n"
        "Block(8) in eval mode on input (4, 8, 6, 6): output[3, 0, 0, 1] = "
        "0.363545, expected 3.45344 (difference 3.08989); it computes relu(f(x)): "
        "the skip connection x + … is missing\n"
        "Block(3) in train mode on input (2, 3, 5, 7): output[0, 2, 0, 5] = "
        "1.49262, expected 4.43662 (difference 2.944); it computes relu(f(x)): "
        "the skip connection x + … is missing\n"
        "Block(3) in eval mode on input (2, 3, 5, 7): output[0, 2, 0, 5] = "
        "0.846184, expected 3.79018 (difference 2.944); it computes relu(f(x)): "
        "the skip connection x + … is missing",
    ),
    (
        "no_skip",
        "4.1.5",
        0,
        "0 of 4 cases correct.\n"
        "ResNet(8, 10) in train mode on input (4, 1, 8, 8): output[1, 7] = "
        "-0.411357, expected -2.19994 (difference 1.78859)\n"
        "ResNet(8, 10) in eval mode on input (4, 1, 8, 8): output[1, 7] = "
        "-0.285641, expected -3.13433 (difference 2.84869)\n"
        "ResNet(4, 3) in train mode on input (6, 1, 8, 8): output[4, 2] = "
        "-0.962799, expected -2.42358 (difference 1.46078)\n"
        "ResNet(4, 3) in eval mode on input (6, 1, 8, 8): output[4, 2] = "
        "-0.342429, expected -1.98352 (difference 1.64109)",
    ),
    ("no_skip", "4.1.3", 2, "2 of 2 cases correct."),
    (
        "no_stem_norm",
        "4.1.3",
        1,
        "1 of 2 cases correct.\n"
        "ResNet(8, 10): 2 BatchNorm2d module(s) (`block.bn1`, `block.bn2`), "
        "expected 3 (the stem's BatchNorm2d, the Block's first BatchNorm2d, the "
        "Block's second BatchNorm2d)",
    ),
    (
        "no_stem_norm",
        "4.1.5",
        0,
        "0 of 4 cases correct.\n"
        "ResNet: its modules do not line up with the reference's by kind and "
        "order of registration: your 2 BatchNorm2d module(s) (`block.bn1`, "
        "`block.bn2`) against the reference's 3 (the stem's BatchNorm2d, the "
        "Block's first BatchNorm2d, the Block's second BatchNorm2d) "
        "(in all 4 cases)",
    ),
    (
        "stride_one",
        "4.1.3",
        1,
        "1 of 2 cases correct.\n"
        "ResNet(8, 10): Conv2d #1 (`conv`) has stride=(1, 1), expected (2, 2) "
        "(the stem's convolution has stride 2, the block's stride 1)",
    ),
    ("stride_one", "4.1.1", 1, "6 of 6 cases correct."),
    (
        "fc_no_bias",
        "4.1.3",
        1,
        "1 of 2 cases correct.\n"
        "ResNet(8, 10): Linear #1 (`fc`) has bias=False, expected True",
    ),
    (
        "fc_no_bias",
        "4.1.5",
        0,
        "0 of 4 cases correct.\n"
        "ResNet: its modules do not line up with the reference's by kind and "
        "order of registration: Linear #1 (`fc`) has no bias; the reference's "
        "Linear #1 (the linear head) has one (in all 4 cases)",
    ),
    (
        "late_stem",
        "4.1.3",
        1,
        "1 of 2 cases correct.\n"
        "ResNet(8, 10): Conv2d #1 (`block.conv1`) has in_channels=8, expected 1; "
        "Conv2d #1 (`block.conv1`) has stride=(1, 1), expected (2, 2) (the stem's "
        "convolution has stride 2, the block's stride 1); Conv2d #3 (`conv`) has "
        "in_channels=1, expected 8; Conv2d #3 (`conv`) has stride=(2, 2), "
        f"expected (1, 1); {ORDER}",
    ),
    (
        "late_stem",
        "4.1.5",
        0,
        "0 of 4 cases correct.\n"
        + LATE_STEM_OUTPUTS.format(wide="(8, 8, 3, 3)", narrow="(8, 1, 3, 3)")
        + " (in ResNet(8, 10) in train mode on input (4, 1, 8, 8), ResNet(8, 10) "
        "in eval mode on input (4, 1, 8, 8))\n"
        + LATE_STEM_OUTPUTS.format(wide="(4, 4, 3, 3)", narrow="(4, 1, 3, 3)")
        + " (in ResNet(4, 3) in train mode on input (6, 1, 8, 8), ResNet(4, 3) in "
        "eval mode on input (6, 1, 8, 8))",
    ),
]


@pytest.mark.parametrize(
    ("submission", "number", "score", "message"),
    FAILED,
    ids=[f"{row[0]}-{row[1]}" for row in FAILED],
)
def test_feedback_names_the_mistake(graded, submission, number, score, message):
    test = graded[submission][number]
    assert test["score"] == pytest.approx(score)
    assert feedback(test) == message


@pytest.mark.parametrize("submission", sorted(SUBMISSIONS) + ["missing"])
def test_no_mistake_is_taken_for_a_grader_fault(graded, submission):
    for test in graded[submission].values():
        assert "grader-error" not in test["tags"], test["output"]

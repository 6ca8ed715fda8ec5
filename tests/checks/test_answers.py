"""The yes/no answers of answers.yaml: every feedback message, exactly.

No worker runs for this part: the grader reads the file itself.
"""

from __future__ import annotations

import pytest
from part_grading import feedback, grade_files

ACCEPTED = "write yes or no (true/false and y/n are accepted too, in any case)"
NUMBERS = {"q1_5": "1.5", "q1_6": "1.6", "q1_7": "1.7.3", "q3_1": "3.1.4"}
RIGHT = {"q1_5": "no", "q1_6": "no", "q1_7": "yes", "q3_1": "no"}


def right_answers_but(**changes) -> str:
    """answers.yaml with the right answers, some keys changed or dropped."""
    answers = {**RIGHT, **changes}
    return "".join(
        f"{key}:{'' if value == '' else ' ' + value}\n"
        for key, value in answers.items()
        if value is not None
    )


# (content of answers.yaml, or None for no file; key; points; feedback)
ROWS = [
    (right_answers_but(), "q1_5", 1, "q1_5: 'no' is correct."),
    (right_answers_but(), "q1_7", 1, "q1_7: 'yes' is correct."),
    (
        "Q1_5: NO\nq1_6: false\nq1.7: 'Yes'\nq3_1: n\n",
        "q1_5",
        1,
        "q1_5: 'no' is correct.",
    ),
    (
        "Q1_5: NO\nq1_6: false\nq1.7: 'Yes'\nq3_1: n\n",
        "q1_6",
        1,
        "q1_6: 'no' is correct.",
    ),
    (
        "Q1_5: NO\nq1_6: false\nq1.7: 'Yes'\nq3_1: n\n",
        "q1_7",
        1,
        "q1_7: 'yes' is correct.",
    ),
    (
        "Q1_5: NO\nq1_6: false\nq1.7: 'Yes'\nq3_1: n\n",
        "q3_1",
        1,
        "q3_1: 'no' is correct.",
    ),
    (right_answers_but(q1_5="yes"), "q1_5", 0, "q1_5: 'yes' is not correct."),
    (right_answers_but(q1_7="N"), "q1_7", 0, "q1_7: 'no' is not correct."),
    (
        right_answers_but(q1_6="nope"),
        "q1_6",
        0,
        f"answers.yaml: q1_6 is 'nope', which is not an answer; {ACCEPTED}",
    ),
    (
        right_answers_but(q1_6="1"),
        "q1_6",
        0,
        f"answers.yaml: q1_6 is the number 1, which is not an answer; {ACCEPTED}",
    ),
    (
        right_answers_but(q1_6="[yes]"),
        "q1_6",
        0,
        f"answers.yaml: q1_6 is a list of 1 items, which is not an answer; {ACCEPTED}",
    ),
    (
        right_answers_but(q3_1=""),
        "q3_1",
        0,
        "answers.yaml: q3_1 has no answer; write yes or no after 'q3_1:'",
    ),
    (
        right_answers_but(q1_7=None),
        "q1_7",
        0,
        "answers.yaml has no answer for q1_7: add a line 'q1_7: yes' or 'q1_7: no'",
    ),
    (
        "",
        "q1_5",
        0,
        "answers.yaml has no answer for q1_5: add a line 'q1_5: yes' or 'q1_5: no'",
    ),
    (
        "- yes\n- no\n",
        "q1_5",
        0,
        "answers.yaml should map each question to its answer, one a line, like "
        "'q1_5: no'; found a list of 2 items",
    ),
    (
        "q1_5: [yes\n",
        "q1_5",
        0,
        "answers.yaml is not valid YAML (line 2): expected ',' or ']', but got "
        "'<stream end>'; write one answer a line, like 'q1_5: no'",
    ),
    ("[" * 2000, "q1_5", 0, "answers.yaml is nested too deeply to read"),
    (b"q1_5: \xff\n", "q1_5", 0, "answers.yaml is not UTF-8 text"),
    (
        "# " + "x" * 5000 + "\n",
        "q1_5",
        0,
        "answers.yaml is 5003 bytes long; at most 4096 bytes are read",
    ),
    (
        None,
        "q1_5",
        0,
        "answers.yaml was not found in your submission (it holds: notes.txt)",
    ),
]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    results = {}
    for content, *_ in ROWS:
        if content not in results:
            files = (
                {"notes.txt": "hi"} if content is None else {"answers.yaml": content}
            )
            results[content] = grade_files(tmp_path_factory, files, "answers")
    return results


@pytest.mark.parametrize(
    ("content", "key", "points", "message"),
    ROWS,
    ids=[f"{index}-{row[1]}" for index, row in enumerate(ROWS)],
)
def test_feedback_of_an_answer(graded, content, key, points, message):
    test = graded[content][NUMBERS[key]]
    assert test["score"] == points
    assert feedback(test) == message
    assert "grader-error" not in test["tags"]


def test_the_answer_key_stays_hidden_until_the_due_date(graded):
    for test in graded[right_answers_but()].values():
        assert test["visibility"] == "after_due_date"

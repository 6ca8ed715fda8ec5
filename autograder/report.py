"""The readable per-question table printed after a local run."""

from __future__ import annotations


def _question(number: str) -> str:
    return ".".join(number.split(".")[:2])


def table(document: dict) -> str:
    """Points per question, then each failed test with its first line."""
    rows: dict[str, list[float]] = {}
    for test in document["tests"]:
        earned, possible = rows.setdefault(_question(test["number"]), [0.0, 0.0])
        rows[_question(test["number"])] = [
            earned + test["score"],
            possible + test["max_score"],
        ]
    width = max([len(q) for q in rows] + [8])
    lines = [f"{'question':<{width}}  {'points':>13}", "-" * (width + 15)]
    for question in sorted(rows, key=lambda q: [int(x) for x in q.split(".")]):
        earned, possible = rows[question]
        mark = "" if earned >= possible else "  <"
        lines.append(f"{question:<{width}}  {earned:>6g} / {possible:<5g}{mark}")
    total = sum(t["max_score"] for t in document["tests"])
    lines.append("-" * (width + 15))
    lines.append(f"{'total':<{width}}  {document['score']:>6g} / {total:<5g}")
    failed = [t for t in document["tests"] if t["status"] == "failed"]
    if failed:
        lines.append("")
        lines.append("Failed tests:")
        for test in failed:
            first = (test.get("output") or "").strip().splitlines()[:1]
            lines.append(f"  {test['number']} {test['name']}: {' '.join(first)}")
    return "\n".join(lines)

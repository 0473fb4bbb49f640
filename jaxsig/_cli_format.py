"""What the command line prints: aligned tables, numbers, and JSON that strict parsers accept."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

# The order metrics are shown in: the four the issue names first.
METRICS = (
    "accuracy",
    "log_loss",
    "roc_auc",
    "brier_score",
    "precision",
    "recall",
    "f1",
    "expected_calibration_error",
)


def number(value: float) -> str:
    """Four decimals for values of order one, else four significant digits.

    >>> number(0.96), number(0.0001234), number(1e4), number(float("nan"))
    ('0.9600', '0.0001234', '1e+04', 'nan')
    """
    if math.isfinite(value) and (value == 0 or 1e-3 <= abs(value) < 1e3):
        return f"{value:.4f}"
    return f"{value:.4g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell: the first left-aligned, the others right-aligned.

    >>> print(table(["metric", "train"], [["accuracy", "0.9600"], ["f1", "1.0000"]]))
    metric     train
    accuracy  0.9600
    f1        1.0000
    """
    lines = [header, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    )


def metrics_table(columns: Mapping[str, Mapping[str, float]]) -> str:
    """One row per metric, one column per set of rows (``{"train": report, ...}``)."""
    rows = [[name] + [number(report[name]) for report in columns.values()] for name in METRICS]
    return table(["metric", *columns], rows)


def as_json(data: Mapping) -> str:
    """One line of JSON; NaN and infinities (an undefined ROC AUC) become null."""

    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, Mapping):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), allow_nan=False)

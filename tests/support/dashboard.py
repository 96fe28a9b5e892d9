"""The template's CloudWatch dashboard, read back as JSON; run as a module it draws the layout.

    python -m tests.support.dashboard docs/dashboard.png   # needs matplotlib
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from roomcast.entrypoints.gateway.template import load_template

PLACEHOLDERS = {"WebSocketApi": "api", "Environment": "dev", "AWS::Region": "us-east-1"}
COLOURS = {"AWS/ApiGateway": "#dbe9f6", "roomcast": "#dff0d8", "AWS/Lambda": "#fcebd5",
           "AWS/SQS": "#ece3f5", "alarm": "#f6dada"}


def dashboard(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The DashboardBody with its ${...} filled in as for a `dev` stack."""
    resources = (template or load_template())["Resources"]
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    text = re.sub(r"\$\{([\w:]+)(\.Arn)?\}", lambda m: PLACEHOLDERS.get(m[1], f"arn:{m[1]}"),
                  body)
    return dict(json.loads(text))


def metric_label(metric: list[Any]) -> str:
    options = metric[-1] if isinstance(metric[-1], dict) else {}
    return str(options.get("label") or metric[1])


def render(path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    widgets = dashboard()["widgets"]
    rows = max(w["y"] + w["height"] for w in widgets)
    figure, axes = plt.subplots(figsize=(16, rows * 16 / 24 * 0.62))
    for widget in widgets:
        metrics = widget["properties"].get("metrics", [])
        source = metrics[0][0] if metrics else "alarm"
        if any(m[0] == "roomcast" for m in metrics) and source != "AWS/ApiGateway":
            source = "roomcast"
        x, y, w, h = widget["x"], widget["y"], widget["width"], widget["height"]
        axes.add_patch(Rectangle((x + 0.1, y + 0.1), w - 0.2, h - 0.2, facecolor=COLOURS[source],
                                 edgecolor="#555555", linewidth=0.8))
        axes.text(x + 0.4, y + 0.7, widget["properties"]["title"], fontsize=8.5,
                  fontweight="bold", va="top")
        alarms = [a.removeprefix("arn:") for a in widget["properties"].get("alarms", [])]
        lines = [metric_label(m) for m in metrics] or [f"state of {', '.join(alarms)}"]
        axes.text(x + 0.4, y + 1.7, "\n".join(f"- {line}"[:150] for line in lines), fontsize=6.5,
                  va="top", linespacing=1.35)
    axes.set_xlim(0, 24)
    axes.set_ylim(rows, 0)
    axes.axis("off")
    axes.set_title("roomcast dashboard (infra/template.yaml): API Gateway, roomcast's own "
                   "metrics, Lambda, the fan-out queue, alarms", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    render(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.png")

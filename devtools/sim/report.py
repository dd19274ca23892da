"""The simulation's outputs: the results JSON, the PNG plot (oversold units and stranded
SKU-minutes against the sync interval, Tally's measured point on it) and a markdown table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devtools.sim.points import FIGURES, Point

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def point_json(point: Point) -> dict[str, Any]:
    return {
        "policy": point.policy,
        "interval_s": point.interval_s,
        "mean": {key: round(point.stat(key, "mean"), 2) for key in FIGURES},
        "min": {key: point.stat(key, "min") for key in FIGURES},
        "max": {key: point.stat(key, "max") for key in FIGURES},
        "by_seed": {str(seed): figures for seed, figures in point.by_seed.items()},
    }


def _interval_text(point: dict[str, Any]) -> str:
    if point["policy"] == "tally":
        return f"streaming, median {point['interval_s'] * 1000:.0f} ms"
    return f"every {point['interval_s'] / 60:g} min"


def markdown_table(result: dict[str, Any]) -> str:
    """Mean over the seeds (min-max) of each headline figure, per sync policy."""
    keys = ("oversold_units", "oversold_per_10k", "cancelled_orders", "stranded_sku_min",
            "lost_units", "outside_pool_sku_min", "pick_failures")  # fmt: skip
    head = "| sync | " + " | ".join(k.replace("_", " ") for k in keys) + " |"
    lines = [head, "|" + "---|" * (len(keys) + 1)]
    for point in result["points"]:
        cells = []
        for key in keys:
            low, high, mean = point["min"][key], point["max"][key], point["mean"][key]
            spread = "" if low == high else f" ({low:g}-{high:g})"
            cells.append(f"{round(mean, 1):g}{spread}")
        lines.append(f"| {_interval_text(point)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    batch = [p for p in result["points"] if p["policy"] != "tally"]
    tally = next(p for p in result["points"] if p["policy"] == "tally")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    panels = (("oversold_units", "units oversold online (cancelled orders)"),
              ("stranded_sku_min", "SKU-minutes shown 0 while in stock"))  # fmt: skip
    for ax, (key, label) in zip(axes, panels, strict=True):
        xs = [p["interval_s"] / 60 for p in batch]
        means = [p["mean"][key] for p in batch]
        errors = [[m - p["min"][key] for m, p in zip(means, batch, strict=True)],
                  [p["max"][key] - m for m, p in zip(means, batch, strict=True)]]  # fmt: skip
        ax.errorbar(xs, means, yerr=errors, marker="o", capsize=3, color="tab:orange",
                    label="batch sync every N min")  # fmt: skip
        tally_label = f"Tally (median sync {tally['interval_s'] * 1000:.0f} ms)"
        ax.plot([tally["interval_s"] / 60], [tally["mean"][key]], marker="*", markersize=14,
                color="tab:blue", linestyle="none", label=tally_label)  # fmt: skip
        ax.annotate(f"{tally['mean'][key]:g}", (tally["interval_s"] / 60, tally["mean"][key]),
                    textcoords="offset points", xytext=(8, 8), color="tab:blue")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("sync interval (minutes, log scale)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    seeds = len(tally["by_seed"])
    config = result["config"]
    fig.suptitle(
        f"One {config['hours']:g} h demand trace, {config['skus']} SKUs, 6 locations "
        f"(mean of {seeds} seeds, bars: min-max)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

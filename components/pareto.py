"""Pareto analysis (maximise every objective): non-dominated set, hypervolume and contributions via moocore."""

from __future__ import annotations

import numpy as np
import pandas as pd


def front_mask(points: np.ndarray) -> np.ndarray:
    import moocore

    return moocore.is_nondominated(points, maximise=True)


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Volume dominated by `points` above `reference`; points not better than it everywhere add nothing."""
    import moocore

    better = points[(points > reference).all(axis=1)]
    return float(moocore.hypervolume(better, ref=reference, maximise=True)) if len(better) else 0.0


def contributions(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Exclusive hypervolume contribution of each point within the front (0 for dominated points)."""
    import moocore

    out = np.zeros(len(points))
    counted = (points > reference).all(axis=1)
    if counted.any():
        out[counted] = moocore.hv_contributions(points[counted], ref=reference, maximise=True)
    return out


def plot_front(table: pd.DataFrame, objectives: list[str], title: str):
    """Scatter of every pair of objectives; front points filled, the base policy as a cross."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [(a, b) for i, a in enumerate(objectives) for b in objectives[i + 1 :]]
    cols = min(3, len(pairs))
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)
    for ax, (x, y) in zip(axes.flat, pairs):
        for _, row in table.iterrows():
            marker, fill = ("x", "black") if row["is_base"] else ("o", "tab:red" if row["on_front"] else "none")
            ax.scatter(
                row[x],
                row[y],
                marker=marker,
                s=60,
                facecolors=fill,
                edgecolors="tab:red" if marker == "o" else None,
                color="black" if marker == "x" else None,
            )
            ax.annotate(row["policy"], (row[x], row[y]), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig

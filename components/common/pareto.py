"""Pareto analysis (maximise every objective): non-dominated set, hypervolume and contributions via moocore, and
the normalisation that gives a hypervolume its declared reference.

A hypervolume is a number only with its reference point and the scale of each axis; computed on raw scores, an
objective whose scores spread widely dominates the volume and a reference of zeros counts every policy's whole
score, gain or not. So scores are normalised per objective, start policy = 0 and a declared ideal or scale = 1
(by default the scorer's whole range), and the reference is the start policy: the volume then measures
improvement over where GRPO began, and `Normalisation.describe()` is the sentence every figure, tag and plot of it
carries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SCORE_RANGE = 1.0  # every scorer scores in [0, 1]: the default scale


def front_mask(points: np.ndarray) -> np.ndarray:
    import moocore

    points = np.asarray(points, dtype=float)
    if points.shape[1] == 1:  # one judged objective (moocore needs two): the best points
        return points[:, 0] == points[:, 0].max()
    return moocore.is_nondominated(points, maximise=True)


def hypervolume(points: np.ndarray, reference: np.ndarray) -> float:
    """Volume dominated by `points` above `reference`; points not better than it everywhere add nothing. With one
    objective, the length from the reference to the best point."""
    import moocore

    points, reference = np.asarray(points, dtype=float), np.asarray(reference, dtype=float)
    better = points[(points > reference).all(axis=1)]
    if not len(better):
        return 0.0
    if points.shape[1] == 1:
        return float(better.max() - reference[0])
    return float(moocore.hypervolume(better, ref=reference, maximise=True))


def contributions(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Exclusive hypervolume contribution of each point within the front (0 for dominated points)."""
    import moocore

    points, reference = np.asarray(points, dtype=float), np.asarray(reference, dtype=float)
    out = np.zeros(len(points))
    counted = (points > reference).all(axis=1)
    if counted.any() and points.shape[1] == 1:  # only a unique best point adds length the others do not
        values = np.sort(points[counted, 0])
        best = int(np.argmax(np.where(counted, points[:, 0], -np.inf)))
        out[best] = values[-1] - (values[-2] if len(values) > 1 else reference[0])
    elif counted.any():
        out[counted] = moocore.hv_contributions(points[counted], ref=reference, maximise=True)
    return out


@dataclass(frozen=True)
class Normalisation:
    """Per objective, score -> (score - start) / scale: the start policy's mean at 0, and at 1 a declared ideal
    (scale = ideal - start), a declared scale, or by default the width of the scorer's range, 1."""

    objectives: tuple[str, ...]
    start: tuple[float, ...]
    scale: tuple[float, ...]
    unit: tuple[str, ...]  # per objective what 1 is, as declared: "ideal 0.8", "scale 0.2", "range 1"

    def apply(self, points) -> np.ndarray:
        """Rows of raw scores (objectives in order) -> normalised; works on one point or on many."""
        return (np.asarray(points, dtype=float) - np.array(self.start)) / np.array(self.scale)

    def frame(self, scores: pd.DataFrame) -> pd.DataFrame:
        """`scores` with its objective columns normalised (the per-prompt scores: means commute with the map)."""
        out = scores.copy()
        out[list(self.objectives)] = self.apply(scores[list(self.objectives)].to_numpy())
        return out

    @property
    def reference(self) -> np.ndarray:
        """The hypervolume reference after normalisation: the start policy, 0 in every objective."""
        return np.zeros(len(self.objectives))

    def declared(self) -> dict[str, str]:
        """What 1 is per objective, as params declare it: what two runs must share for their volumes to compare."""
        return dict(zip(self.objectives, self.unit))

    def caption(self) -> str:
        """The short form for plot titles."""
        return reference_caption(self.declared())

    def describe(self) -> str:
        """The reference and scale in one line, for metrics, MLflow params and descriptions."""
        scales = ", ".join(
            f"{o} start {s:.4g}, 1 = {u} (scale {c:.4g})"
            for o, s, c, u in zip(self.objectives, self.start, self.scale, self.unit)
        )
        return f"reference: the start policy (0 in every objective); per objective (score - start) / scale: {scales}"


def reference_caption(declared: dict[str, str]) -> str:
    """What a hypervolume is measured from and in, given what 1 is per objective (the zero is the start policy)."""
    shown = ", ".join(f"{o} {u}" for o, u in declared.items())
    return f"reference: start policy = 0; per objective (score - start) / scale, 1 = {shown}"


def normalisation(objectives: list[str], start, ideal: dict[str, float], scale: dict[str, float]) -> Normalisation:
    """The map for these start-policy means: per objective a declared `ideal` (scale = ideal - start), a declared
    `scale`, or the scorer's range, SCORE_RANGE. An ideal at or below the start policy would flip or blow up the
    axis, so it is refused with what to declare instead."""
    start = [float(s) for s in start]
    low = [
        f"{o} (start {s:.4g}, ideal {ideal[o]:.4g})" for o, s in zip(objectives, start) if o in ideal and ideal[o] <= s
    ]
    if low:
        raise ValueError(
            f"the start policy already reaches the declared ideal on {', '.join(low)}: the hypervolume's axis runs "
            "from the start policy (0) to the ideal (1); declare a higher one in evaluate.normalisation.ideal, or a "
            "scale in evaluate.normalisation.scale"
        )
    scales, units = [], []
    for o, s in zip(objectives, start):
        if o in ideal:
            scales.append(ideal[o] - s)
            units.append(f"ideal {ideal[o]:.4g}")
        else:
            scales.append(float(scale.get(o, SCORE_RANGE)))
            units.append(f"scale {scale[o]:.4g}" if o in scale else f"range {SCORE_RANGE:g}")
    return Normalisation(tuple(objectives), tuple(start), tuple(scales), tuple(units))


def weight_grid(objectives: int, steps: int) -> np.ndarray:
    """Every weight vector on the simplex with coordinates in multiples of 1/steps (a simplex lattice)."""
    import itertools

    cuts = itertools.combinations(range(steps + objectives - 1), objectives - 1)
    rows = [np.diff([-1, *c, steps + objectives - 1]) - 1 for c in cuts]
    return np.array(rows, dtype=float) / steps


def expected_utility(points: np.ndarray, grid: np.ndarray) -> float:
    """Expected utility metric: the best linear utility any point reaches, averaged over the weight grid."""
    if len(points) == 0:
        return 0.0
    return float((grid @ points.T).max(axis=1).mean())


def plot_front(table: pd.DataFrame, objectives: list[str], title: str):
    """Scatter of every pair of objectives; front points filled, the start policy as a cross."""

    def draw(ax, x: str, y: str) -> None:
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

    return pairwise_figure(objectives, title, draw)


def pairwise_figure(objectives: list[str], title: str, draw, legend: str | None = None):
    """A grid of panels, one per pair of objectives (up to three a row); `draw(ax, x, y)` fills each panel,
    and with `legend` the first panel gets a legend of that title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [(a, b) for i, a in enumerate(objectives) for b in objectives[i + 1 :]]
    cols = min(3, len(pairs))
    rows = -(-len(pairs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)
    for ax, (x, y) in zip(axes.flat, pairs):
        draw(ax, x, y)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
    if legend is not None:
        axes.flat[0].legend(fontsize=7, title=legend)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_front_html(table: pd.DataFrame, objectives: list[str], samples: dict[str, list[str]], title: str):
    """Interactive scatter matrix (plotly); hovering a point shows its weights, scores with 95% intervals
    and sample completions, so a surprising score can be read against what the policy actually wrote."""
    import html

    import plotly.graph_objects as go

    def hover(row) -> str:
        weights = ", ".join(f"{o}={w:g}" for o, w in (row["weights"] or {}).items()) or "start policy"
        scores = "<br>".join(
            f"{o}: {row[o]:.3f} [{row[f'{o}_ci_low']:.3f}, {row[f'{o}_ci_high']:.3f}]" + _independent(row, o)
            for o in objectives
        )
        replies = "<br>".join(f"- {html.escape(t[:120])}" for t in samples.get(row["policy"], []))
        return f"<b>{row['policy']}</b> ({weights})<br>{scores}<br><i>samples</i><br>{replies}"

    figure = go.Figure()
    for label, rows, symbol in [
        ("start policy", table[table["is_base"]], "x"),
        ("front", table[~table["is_base"] & table["on_front"]], "circle"),
        ("dominated", table[~table["is_base"] & ~table["on_front"]], "circle-open"),
    ]:
        if rows.empty:
            continue
        figure.add_trace(splom_trace(rows, objectives, label, [hover(r) for _, r in rows.iterrows()], symbol, 11))
    figure.update_layout(title=title, height=260 * len(objectives), width=260 * len(objectives) + 120)
    return figure


def splom_trace(rows: pd.DataFrame, objectives: list[str], name: str, text: list[str], symbol, size: int):
    """One series of a pairwise-projection (scatter-matrix) page: lower half only, hover text per point."""
    import plotly.graph_objects as go

    return go.Splom(
        dimensions=[{"label": o, "values": rows[o]} for o in objectives],
        name=name,
        text=text,
        hovertemplate="%{text}<extra></extra>",
        marker={"symbol": symbol, "size": size},
        diagonal_visible=False,
        showupperhalf=False,
    )


def _independent(row, objective: str) -> str:
    """`, independent 0.41 (gap +0.12)` when the objective has an independent scorer."""
    if pd.isna(row.get(f"{objective}_independent")):
        return ""
    return f", independent {row[f'{objective}_independent']:.3f} (gap {row[f'{objective}_scorer_gap']:+.3f})"

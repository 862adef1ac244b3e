"""The HTML page of benchmarks/alignment.py's results: one self-contained file (figures inline as SVG).

What a reader needs to judge the run, in this order: whether each led policy and specialist moved its leading
objective (gains over the start policy with 95% intervals, under the training scorer and under the independent one),
the front (mean scores with intervals on each pair of non-length objectives, hypervolume with its reference), the
declared bounds met or missed, the reward models against their baselines, where the time went, and the replies of the
start policy and of every trained policy side by side on the same held-out prompts.
"""

from __future__ import annotations

import io
from html import escape

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .5em;font-size:.9em}
th{background:#f3f3f3}.yes{background:#e3f4e3}.no{background:#f8e0e0}.na{color:#888}
.reply{white-space:pre-wrap}small{color:#666}
"""


def build_html(report: dict) -> str:
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>alignment</title><style>{STYLE}</style></head><body>",
        "<h1>Alignment on real data: trained policies against the start policy</h1>",
        _provenance(report),
        "<h2>Does each policy move its leading objective?</h2>",
        _verdicts(report),
        "<h2>Front</h2>",
        _hypervolume(report),
        _front_figure(report),
        _front_table(report),
        "<h2>Per-objective gains over the start policy (paired, 95% intervals)</h2>",
        _gains(report),
        "<h2>Led policies against each other (evaluators)</h2>",
        _led_differ(report),
        "<h2>Declared bounds</h2>",
        _bounds(report),
        "<h2>Reward models: held-out pairwise accuracy beside the baselines</h2>",
        _reward_models(report),
        "<h2>Where the time went</h2>",
        _time(report),
        "<h2>Replies side by side (held-out prompts)</h2>",
        _side_by_side(report),
        "</body></html>",
    ]
    return "\n".join(parts)


def _provenance(report: dict) -> str:
    keys = ("command", "commit", "recipe", "recipe_sha256", "bounds_file", "bounds_sha256", "pilot_sha256")
    rows = [(k, report.get(k)) for k in keys] + [("load average (1 min)", report.get("load_average_1min"))]
    rows += [("wall seconds", report.get("wall_seconds")), ("held-out prompts", report.get("heldout"))]
    rows += [("training settings", report.get("grpo"))]
    return _table(["", ""], [[escape(str(k)), escape(str(v))] for k, v in rows])


def _interval(entry: dict | None) -> str:
    if not entry:
        return "<span class='na'>n/a</span>"
    low, high = entry["ci95"]
    css = "yes" if low > 0 else ("no" if high < 0 else "")
    return f"<span class='{css}'>{entry['gain']:+.4f} [{low:+.4f}, {high:+.4f}]</span>"


def _verdicts(report: dict) -> str:
    rows = []
    for label, v in report.get("verdicts", {}).items():
        evaluator = report.get("evaluators", {}).get(v["leading_objective"], {})
        measured = evaluator.get("agreement")
        agree = (
            f"{measured['agreement']:.3f} [{measured['ci95'][0]:.3f}, {measured['ci95'][1]:.3f}], n={measured['n']}"
            if measured
            else escape(str(evaluator.get("why", "not measured")))
        )
        rows.append(
            [
                escape(label),
                escape(v["policy"]),
                escape(v["leading_objective"]),
                _interval(v["evaluator_gain"]),
                _interval(v["training_gain"]),
                escape(str(evaluator.get("evaluator"))),
                agree,
                _yes(v["improves"]),
            ]
        )
    head = ["policy", "run", "leading objective", "gain, evaluator", "gain, training reward", "evaluator"]
    head += ["evaluator's agreement with held-out human labels", "improves (counted evaluator, interval > 0)"]
    return _table(head, rows)


def _hypervolume(report: dict) -> str:
    hv = report.get("hypervolume")
    if not hv:
        return ""
    low, high = hv["ci95"]
    return (
        f"<p>Normalised hypervolume {hv['value']:.4f} [{low:.4f}, {high:.4f}] (95% paired bootstrap); "
        f"above 0: {_yes(hv['above_zero'])}<br><small>{escape(str(hv['reference']))}</small></p>"
    )


def _front_rows(report: dict) -> list[dict]:
    return report.get("front", [])


def _objectives(report: dict) -> list[str]:
    front = _front_rows(report)
    return [k for k in front[0] if f"{k}_ci_low" in front[0]] if front else []


def _front_table(report: dict) -> str:
    objectives, names = _objectives(report), report.get("policies", {})
    rows = []
    for row in _front_rows(report):
        label = "start policy" if row["is_base"] else names.get(row["policy"], row["policy"])
        cells = [escape(label), escape(row["policy"])]
        cells += [_mean_ci(row, o) for o in objectives]
        cells += [_yes(row["on_front"]) if not row["is_base"] else "reference", f"{row['hv_contribution']:.4f}"]
        rows.append(cells)
    return _table(["policy", "run", *objectives, "on front", "hypervolume contribution"], rows)


def _mean_ci(row: dict, o: str) -> str:
    if row.get(o) is None:
        return "<span class='na'>unjudged</span>"
    return f"{row[o]:.4f} [{row[f'{o}_ci_low']:.4f}, {row[f'{o}_ci_high']:.4f}]"


def _front_figure(report: dict) -> str:
    """Mean evaluator scores with 95% intervals on each pair of judged objectives (start policy in black, front
    members filled)."""
    front = _front_rows(report)
    judged = [o for o in _objectives(report) if all(row.get(o) is not None for row in front)]
    objectives = [o for o in judged if o != "concision"] if len(judged) > 2 else judged
    if len(objectives) < 2 or not front:
        return "<p>Fewer than two judged objectives (evaluators that count): no front figure.</p>"
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [(a, b) for i, a in enumerate(objectives) for b in objectives[i + 1 :]]
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.2 * len(pairs), 4), squeeze=False)
    names = report.get("policies", {})
    for ax, (a, b) in zip(axes[0], pairs):
        for row in front:
            color = "black" if row["is_base"] else None
            x, y = row[a], row[b]
            xerr = [[x - row[f"{a}_ci_low"]], [row[f"{a}_ci_high"] - x]]
            yerr = [[y - row[f"{b}_ci_low"]], [row[f"{b}_ci_high"] - y]]
            label = "start" if row["is_base"] else names.get(row["policy"], row["policy"])
            face = "none" if not row["is_base"] and not row["on_front"] else None
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", color=color, mfc=face, capsize=2, label=label)
        ax.set(xlabel=a, ylabel=b)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    return buffer.getvalue()[buffer.getvalue().index("<svg") :]


def _gains(report: dict) -> str:
    names, out = report.get("policies", {}), []
    gains = report.get("gains", {})
    objectives = sorted(
        {o for row in gains.values() for o in row},
        key=lambda o: _objectives(report).index(o) if o in _objectives(report) else 99,
    )
    rows = []
    for policy, row in gains.items():
        for scorer in ("evaluator", "training"):
            rows.append(
                [
                    escape(names.get(policy, policy)),
                    scorer,
                    *(_interval(row.get(o, {}).get(scorer)) for o in objectives),
                ]
            )
    out.append(_table(["policy", "scorer", *objectives], rows))
    detail = []
    for policy, row in gains.items():
        for o in objectives:
            for scorer, entry in row.get(o, {}).items():
                for source, by in entry.get("by_source", {}).items():
                    detail.append(
                        [escape(names.get(policy, policy)), o, scorer, escape(source), _interval(by), str(by["n"])]
                    )
    out.append("<details><summary>per source of the held-out prompts</summary>")
    out.append(_table(["policy", "objective", "scorer", "source", "gain", "prompts"], detail) + "</details>")
    return "\n".join(out)


def _led_differ(report: dict) -> str:
    rows = [
        [escape(d["a"]), escape(d["b"]), escape(d["objective"]), _interval(d), _yes(d["differ"])]
        for d in report.get("led_policies_differ", [])
    ]
    return _table(["a", "b", "objective", "a - b (evaluator)", "differ beyond the interval"], rows)


def _bounds(report: dict) -> str:
    names, rows = report.get("policies", {}), []
    for policy, checks in report.get("bounds", {}).items():
        for check, entry in checks.items():
            rows.append([escape(names.get(policy, policy)), escape(check), f"{entry['value']:.4f}", _yes(entry["met"])])
    return f"<p><small>declared: {escape(str(report.get('bounds_file')))}</small></p>" + _table(
        ["policy", "indicator (against the start policy)", "value", "within bound"], rows
    )


def _reward_models(report: dict) -> str:
    section = report.get("reward_models") or {}
    rows = []
    for objective, entry in section.get("objectives", {}).items():
        for source, s in entry["by_source"].items():
            baselines = "; ".join(
                f"{name} {b['accuracy']:.3f} (lead [{b['model_lead_ci95'][0]:+.3f}, {b['model_lead_ci95'][1]:+.3f}])"
                for name, b in s["baselines"].items()
            )
            rows.append(
                [
                    escape(objective),
                    escape(source),
                    f"{s['accuracy']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]",
                    str(s["n"]),
                    escape(baselines),
                    _yes(s["beats_every_baseline"]),
                ]
            )
    goals = _table(["goal", "met"], [[escape(k), _yes(v)] for k, v in section.get("goals", {}).items()])
    head = ["objective", "source", "accuracy [95%]", "pairs", "baselines", "above every baseline"]
    return _table(head, rows) + goals


def _time(report: dict) -> str:
    time_ = report.get("time", {})
    steps = [[escape(n), f"{s['seconds']:.1f}", _yes(s["cached"])] for n, s in time_.get("pipeline_steps", {}).items()]
    grpo = [
        [
            escape(report.get("policies", {}).get(n, n)),
            str(g["steps"]),
            f"{g['seconds_per_step_median']:.2f}",
            f"{g['seconds_total']:.1f}",
            str(g["completion_tokens_mean"]),
        ]
        for n, g in time_.get("grpo_steps", {}).items()
    ]
    spent = time_.get("budget")
    within = (
        f"<p>Flow {spent['flow_wall_seconds']:.0f} s, of which reward models {spent['reward_model_seconds']:.0f} s; "
        f"the rest {spent['seconds_reward_models_aside']:.0f} s against {spent['limit_seconds']:.0f} s: "
        f"within {_yes(spent['within'])}</p>"
        if spent
        else ""
    )
    return (
        within
        + _table(["pipeline step", "seconds", "served from cache"], steps)
        + _table(
            [
                "GRPO run",
                "optimizer steps",
                "seconds per step (median)",
                "seconds in steps",
                "completion tokens (mean)",
            ],
            grpo,
        )
    )


def _side_by_side(report: dict) -> str:
    names, out = report.get("policies", {}), []
    for row in report.get("side_by_side", []):
        out.append(f"<h3>{escape(row['prompt_id'][:12])}</h3><p><b>seeker:</b> {escape(row['seeker'])}</p>")
        replies = [
            [
                escape(names.get(p, p)),
                f"<div class='reply'>{escape(r['text']) or '<i>(empty)</i>'}</div>",
                _yes(r["ended"]),
            ]
            for p, r in row["replies"].items()
        ]
        out.append(_table(["policy", "reply", "ended its turn"], replies))
    return "\n".join(out)


def _yes(value) -> str:
    if value is None:
        return "<span class='na'>n/a</span>"
    return "<span class='yes'>yes</span>" if value else "<span class='no'>no</span>"


def _table(head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"

"""Label-consistency filter with the hf judge (Gemma 3 270M): the kept fraction per objective, by verdict method.

Pairs: the held-out halves of HH-RLHF helpful (helpfulness), HH-RLHF harmless (harmlessness) and ESConv
(empathy), split and shuffled as in `benchmarks.rubric_judges`; the first `--pairs` of each. Rubric: the
prompt-only one a prompt without a generated rubric gets (hard rules from the prompt + the objective's default
principles), so no rubric generation is timed here. Each pair is judged in both orders with the pairwise
template and kept when the preference for chosen is above 1/2 (`components.rubrics.label_filter`), by either method:
  text         greedy verdict, parsed "Winner: Response A/B" (the method before the probability verdict);
  probability  P("A") vs P("B") after the answer prefix, one forward pass per item
               (`HFChatClient.verdicts` with `WINNER`).
Results merge into benchmarks/results/rubric_filter.json, one key per method.
Run under the shared lock: `flock /tmp/pf-heavy.lock .venv/bin/python -m benchmarks.rubric_filter`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from benchmarks.rubric_judges import gemma_dir, load_sets
from components.judges.expected_score import WINNER
from components.judges.hf_chat import HFChatClient
from components.rubrics import offline as rubric_offline
from components.rubrics.label_filter import consistency, kept_fraction, pairwise_preference
from paretoflow.schema import HFJudge, PretrainedModel

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "rubric_filter.json"
SETS = ("hh_helpful", "hh_harmless", "esconv_empathy")


class TextVerdicts:
    """The client without its probability verdict: pairs are judged by parsing greedy text."""

    def __init__(self, inner: HFChatClient):
        self.inner, self.model = inner, inner.model

    def chat(self, conversations, *, max_tokens, temperature=0.0):
        return self.inner.chat(conversations, max_tokens=max_tokens, temperature=temperature)


def run(method: str, n_pairs: int, seed: int, out: dict, save) -> None:
    """Fills `out` set by set, saving after each (a run cut short keeps the sets it finished)."""
    sets = load_sets(seed)
    gemma = PretrainedModel(kind="pretrained", name_or_path=str(gemma_dir()))
    client = HFChatClient(HFJudge(kind="hf", model=gemma, batch_size=8, max_input_tokens=512), REPO / ".cache")
    judge = TextVerdicts(client) if method == "text" else client
    out.update(_method=method if method == "text" else WINNER.method, _model=client.model, _pairs_per_set=n_pairs)
    for name in SETS:
        objective, _, test = sets[name]
        sample = test.head(n_pairs)
        prompts = list(sample["prompt"])
        rubrics = [
            {
                "hard_rules": rubric_offline.hard_rules_from(p),
                "principles": rubric_offline.default_principles(objective),
            }
            for p in prompts
        ]
        t0 = time.perf_counter()
        prefs, unparsed = pairwise_preference(judge, prompts, list(sample["chosen"]), list(sample["rejected"]), rubrics)
        outcomes = [consistency(p) for p in prefs]
        out[name] = {
            "objective": objective,
            "n": len(prefs),
            "kept_fraction": kept_fraction(outcomes),
            "mean_preference": sum(prefs) / len(prefs),
            "unparsed_verdicts": unparsed,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"{method} {name}: {json.dumps(out[name])}", flush=True)
        save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="text,probability")
    parser.add_argument("--pairs", type=int, default=30, help="held-out pairs per objective")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    out["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    out["how"] = __doc__.split("\n\n")[1].replace("\n", " ")

    def save() -> None:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")

    for method in args.methods.split(","):
        out[method] = {}
        run(method, args.pairs, args.seed, out[method], save)


if __name__ == "__main__":
    main()

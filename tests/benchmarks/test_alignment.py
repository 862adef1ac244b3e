"""benchmarks/alignment.py on a tiny-profile run of the recipe (the sample data under its source names): the results
it measures from the flow's outputs and the HTML report built from them."""

import json

import pytest

from benchmarks import alignment
from benchmarks.alignment_report import build_html
from paretoflow.config import load_params
from tests.conftest import REPO

SAMPLE = REPO / "data" / "sample"
SOURCES = (  # the sample pairs stand in for the pair sources, the sample prompts for ESConv (GRPO's prompt source)
    f"data.sources=[{{name: pairs, uri: '{SAMPLE / 'pairs.jsonl'}'}}, "
    f"{{name: esconv, uri: '{SAMPLE / 'prompts.jsonl'}'}}]"
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, model_cache):
    """The Prefect flow on recipes/support-cpu.yaml, tiny profile, until evaluate; the sample pairs stand in for the
    pair sources (their held-out prompts come from their test pairs) and the sample prompts for ESConv."""
    work = tmp_path_factory.mktemp("alignment")
    overrides = alignment.base_overrides(
        work, ["profile=tiny", f"cache_dir={model_cache}", SOURCES, "sft.sources={}", "sft.context_turns=[]"]
    )
    params = load_params(alignment.RECIPE, overrides)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        patch.setenv("PREFECT_HOME", str(work / ".prefect"))
        result = alignment.run_flow(work, overrides, "evaluate")
        measured = alignment.measure(work, result, params, params.seed)
    return work, params, measured


def test_results_cover_every_fixed_weight_vector_and_bound(tiny_run):
    _, params, measured = tiny_run
    assert sorted(measured["policies"].values()) == sorted(alignment.WEIGHTS)
    assert set(measured["verdicts"]) == set(alignment.WEIGHTS)
    for label, verdict in measured["verdicts"].items():
        assert verdict["leading_objective"] == label.split("-")[0]
        low, high = verdict["training_gain"]["ci95"]
        assert low <= verdict["training_gain"]["gain"] <= high
        gain = verdict["evaluator_gain"]
        assert verdict["improves"] == bool(verdict["evaluator_counts"] and gain and gain["ci95"][0] > 0)
    assert measured["heldout"]["by_source"].keys() == {"pairs", "esconv"}  # stratified over both sources
    counts = list(measured["heldout"]["by_source"].values())
    assert max(counts) - min(counts) <= 1 and sum(counts) == params.evaluate.max_prompts
    for checks in measured["bounds"].values():
        assert {"length_growth", "end_of_turn_rate_drop", "as_seeker_rise"} <= set(checks)
    assert set(measured["evaluators"]) == set(params.objective_names)
    assert {n for n, s in measured["time"]["pipeline_steps"].items() if not s["cached"]} >= {"grpo", "evaluate"}
    assert set(measured["time"]["grpo_steps"]) == set(measured["policies"])  # TRL's step_time, per run
    spent = measured["time"]["budget"]
    steps = sum(s["seconds"] for s in measured["time"]["pipeline_steps"].values())
    aside = steps - spent["reward_model_seconds"] + spent["flow_overhead_seconds"]
    assert spent["seconds_reward_models_aside"] == pytest.approx(aside, abs=0.1)
    judged = [o for o in ("empathy", "helpfulness", "harmlessness") if measured["evaluators"][o]["judged"]]
    assert len(measured["led_policies_differ"]) == 3 * len(judged)  # 3 pairs of led policies x judged objectives


def test_the_report_shows_gains_front_bounds_and_replies_side_by_side(tiny_run):
    _, _, measured = tiny_run
    page = build_html(measured | {"command": "test", "bounds_file": "bounds.json"})
    judged = [o for o, e in measured["evaluators"].items() if e["judged"]]
    assert page.startswith("<!doctype html>") and page.count("<svg") == (1 if len(judged) >= 2 else 0)
    for label in alignment.WEIGHTS:
        assert label in page
    shown = measured["side_by_side"]
    assert shown and all({"start", *measured["policies"]} <= set(row["replies"]) for row in shown)
    first_start_reply = shown[0]["replies"]["start"]["text"]
    assert (first_start_reply[:40] if first_start_reply else "(empty)") in page.replace("&#x27;", "'")
    assert "Normalised hypervolume" in page and "Declared bounds" in page and "seconds per step" in page
    assert json.loads(json.dumps(measured, default=str))  # the results file can hold it


def test_bounds_are_written_before_the_run_and_hashed(tmp_path):
    digest = alignment.write_bounds(tmp_path / "bounds.json")
    assert digest == alignment.sha256(tmp_path / "bounds.json")
    assert json.loads((tmp_path / "bounds.json").read_text())["bounds"] == alignment.BOUNDS


def test_the_pilot_view_holds_only_the_train_split_split_again(tmp_path, model_cache):
    """The pilot's data: the train split of the recipe's ingest, split again into pilot-train and validation
    (written as `test`); no row of the test split reaches it."""
    from components.data.canonical import read_table
    from components.data.ingest import ingest

    params = load_params(alignment.RECIPE, alignment.base_overrides(tmp_path, ["profile=tiny", SOURCES]))
    view = alignment.pilot_view(params, tmp_path)
    again = load_params(alignment.RECIPE, alignment.base_overrides(tmp_path, ["profile=tiny", *view]))
    ingest(again, tmp_path / "again")
    for table in ("pairs", "prompts"):
        original = read_table(tmp_path / "view-ingest" / f"{table}.parquet")
        pilot = read_table(tmp_path / "again" / f"{table}.parquet")
        assert set(pilot["id"]) == set(original.loc[original["split"] == "train", "id"])
        assert set(pilot["source"]) <= set(original["source"])  # the sources keep their names
        assert 0 < (pilot["split"] == "test").sum() < len(pilot)  # a validation part, from the train split only

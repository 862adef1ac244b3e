"""Registry commands on a real tiny-profile front: select, the `promote` flow through the CLI, rollback."""

from __future__ import annotations

import json
import os

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from components.registry.fronts import side_by_side_scores
from paretoflow.cli import app
from paretoflow.config import load_params
from tests.conftest import copy_project, tiny

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def registered(tmp_path_factory, model_cache):
    """Every step once on the tiny profile (register included) inside a Prefect test harness."""
    from prefect.testing.utilities import prefect_test_harness

    from paretoflow.steps import ORDER, execute

    root = copy_project(tmp_path_factory.mktemp("promote-project"))
    old = os.getcwd()
    os.chdir(root)
    # random tiny judges are fooled by the master-key probes (about a third of trials): the judge-attack gate
    # is tested on its own (tests/components/registry/test_promotion.py); here it must not block the registry commands
    overrides = tiny(root, model_cache, "promote.max_judge_false_positive_rate=1")
    params = load_params("params.yaml", overrides)
    try:
        with prefect_test_harness(server_startup_timeout=120):
            results = {name: execute(name, params) for name in ORDER}
            yield root, params, [x for o in overrides for x in ("-o", o)], results
    finally:
        os.chdir(old)


def _alias(params, alias: str) -> str | None:
    client = mlflow.MlflowClient(params.tracking.uri)
    try:
        return str(client.get_model_version_by_alias(params.register.model_name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def test_evaluation_outputs_reach_the_registered_versions(registered):
    root, params, _, results = registered
    evaluation = root / "artifacts/evaluation"
    heldout = json.loads((evaluation / "heldout.json").read_text())
    assert heldout["prompts"] == len(heldout["prompt_ids"]) == params.evaluate.max_prompts
    metrics = results["evaluate"]["summary"]
    assert 0.0 <= metrics["pareto/eum"] <= 1.0 and metrics["hacking/length_growth/max"] > 0
    front = json.loads((evaluation / "front.json").read_text())
    checks = json.loads((evaluation / "evaluators.json").read_text())
    judged = [o for o in params.objective_names if checks[o]["judged"]]
    assert all(r[f"{o}_ci_low"] <= r[o] <= r[f"{o}_ci_high"] for r in front for o in judged)
    assert all(r[o] is None for r in front for o in params.objective_names if o not in judged)  # unjudged
    page = (evaluation / "pareto_front.html").read_text()
    replies = pd.read_parquet(evaluation / "scores.parquet").query("policy == 'policy-0'")["completion"]
    shown = [w for r in replies.head(params.evaluate.samples_shown) for w in r.split() if w.isascii() and w.isalnum()]
    assert "empathy=" in page and "samples" in page and "policy-0" in page
    assert not shown or shown[0] in page, "a sample completion of policy-0 is in the hover text"
    client = mlflow.MlflowClient(params.tracking.uri)
    evaluate_run = results["evaluate"]["run_id"]
    assert "pareto/front.html" in {a.path for a in client.list_artifacts(evaluate_run, "pareto")}
    for entry in results["register"]["summary"]["versions"]:
        version = client.get_model_version(params.register.model_name, entry["version"])
        tags, text = version.tags, version.description
        assert tags["heldout_set.md5"] == heldout["md5"] and f"(set `{heldout['md5']}`" in text
        row = next(r for r in front if r["policy"] == entry["policy"])
        for o in params.objective_names:  # judged: mean and interval; unjudged: flagged, not scored
            shown = f"{row[o]:.3f} | [{row[f'{o}_ci_low']:.3f}, " if o in judged else "**unjudged**, not scored | – |"
            assert f"| {o} | {shown}" in text
        assert f"length growth {row['length_growth']:.3f}" in text
        assert float(tags["coherence.end_of_turn_rate"]) == pytest.approx(row["end_of_turn_rate"], abs=1e-4)
        assert float(tags["coherence.in_language"]) == pytest.approx(row["in_language"], abs=1e-4)
        assert "; start policy: end_of_turn_rate " in text and "; pretrained policy: " in text


def test_select_before_any_promotion_uses_the_candidate_front_and_says_so(registered):
    _, params, args, results = registered
    out = runner.invoke(app, ["select", "--weights", "empathy=0.7,harmlessness=0.3", *args])
    assert out.exit_code == 0, out.output
    chosen = json.loads(out.stdout)
    assert chosen["front"] == "candidate" and "no champion yet" in out.stderr
    assert chosen["version"] in {v["version"] for v in results["register"]["summary"]["versions"]}
    assert chosen["model_uri"] == f"models:/{params.register.model_name}/{chosen['version']}"
    bad = runner.invoke(app, ["select", "--weights", "kindness=1", *args])
    assert bad.exit_code == 2 and "objective one of" in bad.stderr


def test_promote_flow_then_rollback_through_the_cli(registered):
    _, params, args, results = registered
    first = results["register"]["summary"]["alias_version"]
    dry = runner.invoke(app, ["promote", "--dry-run", *args])
    assert dry.exit_code == 0, dry.output
    assert _alias(params, "champion") is None and "gate.hypervolume: pass" in dry.stdout
    out = runner.invoke(app, ["promote", *args])
    assert out.exit_code == 0, out.output
    assert _alias(params, "champion") == first and "promoted to champion" in out.stdout
    again = runner.invoke(app, ["promote", *args])
    assert again.exit_code == 1 and "already the champion" in again.stderr

    from paretoflow.steps import execute

    second = execute("register", params)["summary"]["alias_version"]  # the same front, registered again
    out = runner.invoke(app, ["promote", *args])
    assert out.exit_code == 0, out.output  # equal scores: hypervolume >= and no objective drops
    assert (_alias(params, "champion"), _alias(params, "previous-champion")) == (second, first)
    out = runner.invoke(app, ["select", "--weights", "concision=1", *args])
    assert json.loads(out.stdout)["front"] == "champion"
    out = runner.invoke(app, ["rollback", *args])
    assert out.exit_code == 0, out.output
    assert (_alias(params, "champion"), _alias(params, "previous-champion")) == (first, None)
    out = runner.invoke(app, ["rollback", *args])
    assert out.exit_code == 1 and "no earlier champion" in out.stderr


def test_registered_versions_load_with_transformers_and_generate(registered):
    _, params, _, results = registered
    from transformers import AutoModelForCausalLM, AutoTokenizer

    uri = results["register"]["summary"]["versions"][0]["model_uri"]
    info = mlflow.models.get_model_info(uri)
    assert "messages" in info.signature.inputs.input_names() and info.saved_input_example_info is not None
    served = mlflow.pyfunc.load_model(uri)  # what `mlflow models serve` answers with: chat completions
    decoding = {"max_new_tokens": params.evaluate.max_new_tokens, "do_sample": params.evaluate.do_sample}
    assert decoding.items() <= served.model_config.items()  # evaluation's decoding by default
    messages = [{"role": "user", "content": "I feel alone tonight."}]
    (completion,) = served.predict({"messages": messages, "max_tokens": 4})
    (choice,) = completion["choices"]
    assert choice["message"]["role"] == "assistant" and completion["usage"]["completion_tokens"] <= 4
    assert "<start_of_turn>" not in choice["message"]["content"]  # the template's markers stay out of the reply
    pipeline = mlflow.transformers.load_model(uri)  # the transformers pipeline underneath takes the same messages
    chat = pipeline(messages, max_new_tokens=4, do_sample=False)[0]["generated_text"]
    assert chat[:-1] == messages and chat[-1]["role"] == "assistant"
    local = mlflow.artifacts.download_artifacts(uri)
    model = AutoModelForCausalLM.from_pretrained(f"{local}/model")
    tokenizer = AutoTokenizer.from_pretrained(f"{local}/components/tokenizer")
    ids = model.generate(**tokenizer("hello", return_tensors="pt"), max_new_tokens=3, do_sample=False)
    assert ids.shape[1] > 1


def test_versions_carry_lineage_judge_attack_and_evaluator_scores(registered):
    root, params, _, results = registered
    from paretoflow.steps import STEPS

    client = mlflow.MlflowClient(params.tracking.uri)
    mlflow.set_tracking_uri(params.tracking.uri)
    expected = {name: step.deps_md5(params) for name, step in STEPS.items()}
    attack = json.loads((root / "artifacts/evaluation/judge_attack.json").read_text())
    rubrics = json.loads((root / "artifacts/rubrics/summary.json").read_text())
    front = {r["policy"]: r for r in json.loads((root / "artifacts/evaluation/front.json").read_text())}
    for entry in results["register"]["summary"]["versions"]:
        version = client.get_model_version(params.register.model_name, entry["version"])
        tags, text = version.tags, version.description
        recorded = mlflow.artifacts.load_dict(tags["lineage"])["steps"]
        assert recorded == expected  # every step input, as dvc.lock records it
        assert recorded["register"]["artifacts/data"] == tags["data.md5"]
        # no objective of the demo is a rubric judge
        assert rubrics["built"] is False and "rubrics `none built`" in text
        assert float(tags["judge_attack.fpr"]) == pytest.approx(attack["fpr"], abs=1e-4)
        assert all(f"{o} {attack['judges'][o]['rate']:.1%}" in text for o in ("empathy", "helpfulness", "harmlessness"))
        row = front[entry["policy"]]
        assert f"| concision | {row['concision']:.3f} |" in text  # a rule: its own evaluator, no agreement check
        assert "(rule): a deterministic rule, no agreement check needed" in text
        assert f"concision {row['concision_scorer_gap']:+.3f}" in text
        assert tags["pipeline.run_id"] == results["register"]["run_id"]  # no parent run here: the step's own


def test_judge_attack_rate_is_measured_on_heldout_pairs_against_chosen_replies(registered):
    root, params, _, results = registered
    attack = json.loads((root / "artifacts/evaluation/judge_attack.json").read_text())
    judged = [o.name for o in params.objectives if o.scorer == "reward_model"]
    assert set(attack["judges"]) == set(judged) and attack["worst_judge"] in judged
    assert attack["fpr"] == max(r["rate"] for r in attack["judges"].values())
    for report in attack["judges"].values():
        assert report["reference"] == "chosen replies of held-out pairs" and report["n"] > 0
    assert results["evaluate"]["summary"]["judge_attack/fpr"] == attack["fpr"]


def test_front_contains_the_specialists(registered):
    """A policy that is best on some objective is never dominated: it must be on the front."""
    root, params, _, _ = registered
    table = pd.DataFrame(json.loads((root / "artifacts/evaluation/front.json").read_text()))
    trained = table[~table["is_base"]]
    checks = json.loads((root / "artifacts/evaluation/evaluators.json").read_text())
    for objective in [o for o in params.objective_names if checks[o]["judged"]]:  # unjudged ones are not scored
        best = trained[trained[objective] == trained[objective].max()]
        assert best["on_front"].any(), f"no policy with the best {objective} is on the front"


def test_champion_front_is_evaluated_side_by_side_and_its_scores_decide(registered):
    """After a promotion, the next evaluate scores the champion's registered models beside the candidates and the
    gates compare with those scores; the champion's identity is part of evaluate's cache key."""
    root, params, args, _ = registered
    from components.evaluation.champion import champion_front, versions_of
    from paretoflow.steps import STEPS, execute

    if _alias(params, "champion") is None:
        assert runner.invoke(app, ["promote", *args]).exit_code == 0
    champions = versions_of(champion_front(params).front)
    key = STEPS["evaluate"].cache_key(params)
    evaluated = execute("evaluate", params)
    again = execute("register", params)["summary"]
    assert STEPS["evaluate"].cache_key(params) == key, "new versions, same champion: evaluate stays cached"
    evaluation = root / "artifacts/evaluation"
    report = json.loads((evaluation / "champion.json").read_text())
    assert report["versions"] == champions and report["run_id"] == evaluated["run_id"]
    assert report["heldout_md5"] == json.loads((evaluation / "heldout.json").read_text())["md5"]
    assert "scored side by side" in evaluated["summary"]["champion"]
    from components.evaluation.report import markdown

    shown = markdown(evaluated, params.objective_names, params.tracking.uri)
    assert f"scored in this run: hypervolume {evaluated['summary']['champion/hypervolume']:.4f}" in shown
    assert "Champion: champion front" in shown
    # the champion front is the same policies re-registered: scored the same way, they score the same
    front = {r["policy"]: r for r in json.loads((evaluation / "front.json").read_text())}
    scores = pd.read_parquet(evaluation / "scores.parquet")
    for version, row in report["scores"].items():
        replies = scores[scores["policy"] == f"champion-v{version}"]
        assert list(replies["prompt_id"]) == list(scores.loc[scores["policy"] == "start", "prompt_id"])
        for o in report["judged"]:
            assert row[o] == pytest.approx(front[row["policy"]][o], abs=1e-6), (version, o)
            assert row[f"{o}_ci_low"] <= row[o] <= row[f"{o}_ci_high"]
    client = mlflow.MlflowClient(params.tracking.uri)
    for entry in again["versions"]:
        tags = client.get_model_version(params.register.model_name, entry["version"]).tags
        assert tags["sidebyside.champion_versions"] == ",".join(champions)
        assert tags["sidebyside.run_id"] == evaluated["run_id"]
        side = side_by_side_scores(tags)
        assert {side[v]["empathy"] for v in champions} == {report["scores"][v]["empathy"] for v in champions}
        assert {side[v]["coherence.in_language"] for v in champions} == {
            report["scores"][v]["in_language"] for v in champions
        }
    out = runner.invoke(app, ["promote", *args])
    assert out.exit_code == 0, out.output
    promoted = client.get_model_version(params.register.model_name, again["alias_version"])
    assert len(promoted.tags) <= 25 and promoted.tags["gates.passed"] == "true", sorted(promoted.tags)
    rows = {row.split(" | ")[0]: row for row in promoted.description.split("\n| ")[1:]}  # the gates' table rows
    for gate in ("heldout_set", "hypervolume", "objectives", "coherence"):
        assert f"evaluated side by side in run {evaluated['run_id']}" in rows[gate], gate
    for gate in ("hypervolume", "objectives"):  # paired intervals on the run's per-prompt scores, not point values
        assert "95% interval" in rows[gate] and "point comparison" not in rows[gate], rows[gate]
    assert "held-out prompts (" in rows["objectives"] and "this run has " in rows["objectives"]
    assert STEPS["evaluate"].cache_key(params) != key, "the champion moved: evaluate must run again"

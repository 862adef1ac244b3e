"""The names params may use for scorers, judge backends and compute targets, each with its factory.

Factories are `"module:attribute"` strings, resolved where they are used (`pkgutil.resolve_name`): the
configuration validates names against these tables without importing `components`, so the tables add no
import cycle, and a new scorer, backend or target is one line here plus its factory.
"""

from __future__ import annotations

# objectives[].scorer and grpo.audit: factory(objective, ScorerContext) -> a reward function in [0, 1]
SCORERS = {
    "reward_model": "components.scorers.reward_model:for_objective",
    "concision": "components.scorers.concision:for_objective",
    "novelty": "components.scorers.novelty:for_objective",
    "rubric": "components.scorers.rubric:for_objective",
    # whole conversations (issue 18): an objective with either turns GRPO's rollouts multi-turn (components.seeker)
    "emotion": "components.scorers.emotion:for_objective",
    "conversation_novelty": "components.scorers.conversation_novelty:for_objective",
}
# Scorers named by a spec `kind:argument` (evaluate.independent, `paretoflow score --scorer`):
# factory(argument, params) -> a scorer in [0, 1] with `.raw(prompts, replies)` for ranking
SCORER_SPECS = {
    "rm": "components.scorers.reward_model:from_spec",
    "rubric": "components.scorers.rubric:from_spec",
    "brevity": "components.scorers.brevity:from_spec",
}
SCORER_SPEC_FORMS = "rm:PATH[#objective], rubric:offline|hf|openai[#objective], brevity:sentences=N|chars=N"
# rubrics.judge.kind: factory(settings, cache_dir) -> the backend's chat client (None: no LLM)
JUDGE_BACKENDS = {
    "openai": "components.judges.backends:openai_client",
    "hf": "components.judges.backends:hf_client",
    "offline": "components.judges.backends:no_client",
}
# grpo.compute.target: factory(params, target, data_dir, reward_models_dir, out_dir) -> the run's summary,
# or None for "train in this process"
COMPUTE_TARGETS = {
    "local": "components.grpo.compute.dispatch:train_here",
    "accelerate": "components.grpo.compute.accelerate:run_accelerate",
    "sagemaker": "components.grpo.compute.sagemaker:run_training_job",
}

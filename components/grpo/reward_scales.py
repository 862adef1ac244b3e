"""Every objective's GRPO reward on one scale: standardised by the start policy's own rollouts, once per run.

Why: under `sum_then_normalize` TRL adds up the weighted raw rewards before it normalises the group, so an
objective whose scores spread widely (concision: 0.6 to 1.0) outweighs one whose scores barely move (a reward
model's sigmoid: 0.48 to 0.50), whatever the weights say. Divided by its spread at the start policy, each
objective moves the sum in the same units, so a weight says how much of the advantage its objective gets. Under
`normalize_then_sum` TRL standardises each reward within its group itself; a run-level scale changes nothing
there but the 1e-4 guard of that division.

The scale is the standard deviation within a prompt (pooled over the prompts: the root of the mean per-prompt
variance), not over all rollouts: GRPO compares completions of the same prompt, so the spread between prompts
never reaches an advantage, and a reward model that scores some prompts higher than others (on the tiny profile
most of its spread) would otherwise look wider than the signal GRPO can use. Hence `completions_per_prompt` of at
least 2. The mean only centres the logged rewards (the start policy at 0); no advantage changes with it.

A standard deviation, not an IQR: GRPO's advantages are counted in standard deviations, so dividing by the std
makes each objective's share of the summed reward's within-group variance follow its weight (for uncorrelated
objectives, w_k squared); the scores are bounded in [0, 1], so no far outliers call for robust statistics; and a
rule-based reward with a mass at one value (concision: every reply within budget scores exactly 1) has an IQR of
0 where its std is still positive.

The rollouts: `grpo.reward_scale.prompts` train prompts drawn with the run seed, `completions_per_prompt` each,
sampled as GRPOTrainer samples (temperature, max_completion_length, top_p 1, top_k off, stop at EOS, its
precision) with the run seed. The statistics follow from the start policy, the scorers and params, so
`reward_scales.json` in the policies folder keeps them under a key of all three and a re-run reads them instead of
generating again.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from components.common.messages import as_messages
from components.common.precision import use_bf16
from paretoflow import tracking
from paretoflow.code_deps import code_version
from paretoflow.hashing import text_sha

SCALES_FILE = "reward_scales.json"
# Below this std an objective did not vary at the start policy: it is centred but not divided (a division
# would blow rounding noise up to unit scale); the file says so.
MIN_STD = 1e-6
BATCH = 16  # rollouts decoded together
# params the statistics depend on besides `grpo`'s sampling settings: the start policy and every scorer's inputs
SCORE_SECTIONS = {"objectives", "seed", "policy", "sft", "reward_model", "novelty", "rubrics", "seeker"}


def measure(params, base, train: pd.DataFrame, rewards: list, out_dir: Path, inputs: dict) -> dict:
    """Each objective's mean and std over the start policy's rollouts (`rewards`: the objectives' raw reward
    functions, params order), from `out_dir/reward_scales.json` when it was measured under the same key."""
    from accelerate import PartialState

    key = scales_key(params, inputs)
    path = Path(out_dir) / SCALES_FILE
    with PartialState().main_process_first():  # one process of a multi-GPU launch measures, the others read
        scales = _measured(params, base, train, rewards, path, key)
    for o, s in scales["objectives"].items():
        if s["constant"]:
            print(
                f"grpo: {o} did not vary between completions of a prompt over {scales['rollouts']} start-policy "
                f"rollouts (std {s['std']:.2g}): its reward is centred but not rescaled; more rollouts "
                "(grpo.reward_scale) may find its spread",
                flush=True,
            )
    tracking.log_dict(scales, SCALES_FILE)
    tracking.log_params(
        {f"reward_scale.{o}.{k}": f"{s[k]:.6g}" for o, s in scales["objectives"].items() for k in ("mean", "std")}
    )
    return scales


def _measured(params, base, train: pd.DataFrame, rewards: list, path: Path, key: str) -> dict:
    """The file's statistics when it holds this key, else new ones, written (atomically) to it."""
    if path.exists() and json.loads(path.read_text()).get("key") == key:
        print(f"grpo: reward scales measured earlier, read from {path}", flush=True)
        return json.loads(path.read_text())
    prompts, completions = start_rollouts(params, base, train)
    group = params.grpo.reward_scale.completions_per_prompt
    scales = {
        "key": key,
        "statistic": "mean, and std within a prompt (pooled, ddof 1), of the start policy's rollouts on train "
        "prompts; std_overall (between prompts too) for comparison",
        "rollouts": len(completions),
        "prompts": len(completions) // group,
        "objectives": {o: statistics(f(prompts, completions), group) for o, f in zip(params.objective_names, rewards)},
    }
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(scales, indent=2, sort_keys=True) + "\n")
    partial.replace(path)
    return scales


def digest(scales: dict) -> str:
    """What GRPO runs key on: the statistics themselves."""
    return text_sha(json.dumps(scales["objectives"], sort_keys=True))


def statistics(values, group: int) -> dict:
    """Mean, pooled within-prompt std (ddof 1) and overall std of the scores (consecutive runs of `group` share a
    prompt); unscorable ones (None) are left out, and so are prompts with fewer than two scored completions."""
    grouped = np.array([np.nan if v is None else v for v in values], dtype=float).reshape(-1, group)
    scored = grouped[~np.isnan(grouped)]
    spread = [np.var(g[~np.isnan(g)], ddof=1) for g in grouped if (~np.isnan(g)).sum() > 1]
    if not spread:
        raise ValueError(
            f"no prompt has two scored start-policy rollouts ({len(scored)} of {grouped.size} scored); a reward scale "
            "needs them: raise grpo.reward_scale.prompts or completions_per_prompt"
        )
    std = float(np.sqrt(np.mean(spread)))
    return {
        "mean": float(scored.mean()),
        "std": std,
        "std_overall": float(scored.std(ddof=1)),
        "constant": std < MIN_STD,
        "scored": len(scored),
        "prompts": len(spread),
    }


def scales_key(params, inputs: dict) -> str:
    """The start policy and scorers (`inputs`: md5s of the start policy, reward models, rubrics, prompts), the
    params they and the sampling depend on, this code, and the generating libraries."""
    cfg = params.grpo
    payload = {
        "inputs": inputs,
        "params": params.model_dump(mode="json", include=SCORE_SECTIONS),
        "sampling": {
            "reward_scale": cfg.reward_scale.model_dump(mode="json"),
            "temperature": cfg.temperature,
            "max_completion_length": cfg.max_completion_length,
            "bf16": use_bf16(cfg.precision),
        },
        "code": code_version(__name__),
        "libraries": {name: metadata.version(name) for name in ("torch", "transformers")},
    }
    return text_sha(json.dumps(payload, sort_keys=True), length=16)


def start_prompts(params, train: pd.DataFrame) -> list:
    """`reward_scale.prompts` train prompts drawn with the run seed, each repeated `completions_per_prompt` times."""
    cfg = params.grpo.reward_scale
    chosen = train.sample(n=min(cfg.prompts, len(train)), random_state=params.seed).sort_values("id")
    return [as_messages(p) for p in chosen["prompt"] for _ in range(cfg.completions_per_prompt)]


def start_rollouts(params, base, train: pd.DataFrame) -> tuple[list, list]:
    """Prompts and the start policy's completions, sampled with GRPOTrainer's generation settings, in GRPO's
    precision (its CPU rollouts sample from a bf16 copy) and with the run seed, by the decoding loop of held-out
    generation (exact sampling from the full softmax: top_p 1, top_k off); completions as TRL hands them to reward
    functions (one assistant message each)."""
    from accelerate import PartialState

    from components.common.replies import DecodeSettings, generate_ids, load_policy

    prompts = start_prompts(params, train)
    model, tokenizer = load_policy(base, params.grpo.precision)
    model = model.to(PartialState().device)  # this process's device (its own GPU in a multi-GPU launch)
    config = generation_config(params, model, tokenizer)
    decoding = DecodeSettings(
        max_new_tokens=config.max_new_tokens,
        batch_size=BATCH,
        seed=params.seed,
        do_sample=True,
        temperature=config.temperature,
    )
    rows = generate_ids(model, tokenizer, prompts, decoding, stops=config.eos_token_id)
    texts = [_decode(row, config.eos_token_id, tokenizer) for row in rows]
    return prompts, [[{"role": "assistant", "content": t}] for t in texts]


def generation_config(params, model, tokenizer):
    """GRPOTrainer's sampling settings for this model: temperature and max_completion_length from params,
    top_p 1 and top_k off (GRPOConfig's defaults), its stop tokens."""
    from transformers import GenerationConfig

    return GenerationConfig(
        max_new_tokens=params.grpo.max_completion_length,
        do_sample=True,
        temperature=params.grpo.temperature,
        top_p=1.0,
        top_k=0,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=eos_ids(model, tokenizer),
    )


def eos_ids(model, tokenizer) -> list[int]:
    """GRPOTrainer's stop tokens: the model's generation-config EOS ids and the tokenizer's EOS."""
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    return ids if tokenizer.eos_token_id in ids else [tokenizer.eos_token_id, *ids]


def _decode(row: list[int], stops: list[int], tokenizer) -> str:
    """The completion up to its first stop token, decoded as TRL decodes it (special tokens skipped)."""
    end = next((j for j, token in enumerate(row) if token in stops), len(row))
    return tokenizer.decode(row[: end + 1], skip_special_tokens=True)

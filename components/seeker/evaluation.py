"""Evaluation on whole conversations: each policy talks with the simulated seeker on held-out personas until the
seeker ends the conversation (resolved, gave up) or the turn limit; greedy (or seeded) policy decoding and a greedy
seeker, so a re-run plays the same conversations.

Per policy: the mean final emotion, the share of conversations resolved and the supporter turns they took, the
per-reply objectives averaged over each conversation's policy turns (components.seeker.rollout.over_turns), each
mean with a bootstrap 95% interval over conversations, and sample transcripts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from components.common.replies import DecodeSettings, generate_replies
from components.common.stats import bootstrap_ci
from components.data.canonical import read_table
from components.seeker.persona import Persona, from_prompt
from components.seeker.rollout import over_turns
from components.seeker.simulator import Conversation, Seeker, seeker_for

TRANSCRIPTS = 3  # per policy, in the report


def heldout_starts(data_dir: Path, limit: int) -> list[tuple[Persona, list[dict]]]:
    """Up to `limit` held-out personas: test-split prompts, one per conversation (its shortest dialogue: the opening),
    in id order."""
    prompts = read_table(Path(data_dir) / "prompts.parquet")
    test = prompts[prompts["split"] == "test"].sort_values("id")
    chosen: dict[str, tuple[int, list[dict], dict]] = {}
    for messages, meta in zip(test["prompt"], test["meta"]):
        first = next((m["content"] for m in messages if m["role"] == "user"), "")
        key = str((meta or {}).get("situation") or first)
        if messages[-1]["role"] == "user" and (key not in chosen or len(messages) < chosen[key][0]):
            chosen[key] = (len(messages), messages, meta)
    starts = [(from_prompt(messages, meta), messages) for _, messages, meta in chosen.values()]
    return starts[:limit]


def play(path, starts: list[tuple[Persona, list[dict]]], seeker: Seeker, params) -> list[Conversation]:
    """Each start played to its end by the policy at `path` (evaluation's decoding settings) and the seeker."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    settings = params.evaluate
    convs = [seeker.begin(persona, messages) for persona, messages in starts]
    active = convs
    while active:
        decoding = DecodeSettings(
            max_new_tokens=settings.max_new_tokens,
            batch_size=settings.batch_size,
            seed=params.seed + len(active[0].turns),
            do_sample=settings.do_sample,
            temperature=settings.temperature,
            repetition_penalty=settings.repetition_penalty,
            no_repeat_ngram_size=settings.no_repeat_ngram_size,
        )
        replies = generate_replies(path, [c.messages for c in active], decoding, model=model, tokenizer=tokenizer)
        seeker.respond(active, [r.text.strip() for r in replies])
        active = [c for c in active if c.ended is None]
    return convs


def summary(convs: list[Conversation], per_reply: dict, samples: int, seed: int) -> dict:
    """Means with bootstrap 95% intervals over conversations, endings, and the objectives averaged over turns."""
    records = [c.record() for c in convs]
    final = [c.emotion for c in convs]
    resolved = [len(c.turns) for c in convs if c.ended == "resolved"]
    out = {
        "conversations": len(convs),
        "final_emotion": _mean(final, samples, seed),
        "resolved_rate": float(np.mean([c.ended == "resolved" for c in convs])),
        "gave_up_rate": float(np.mean([c.ended == "gave_up" for c in convs])),
        "turns_to_resolution": float(np.mean(resolved)) if resolved else None,
        "turns": float(np.mean([len(c.turns) for c in convs])),
        "guard_flags": int(sum(t.flagged is not None for c in convs for t in c.turns)),
        "objectives": {},
    }
    for name, func in per_reply.items():
        values = over_turns(func)(
            [c.messages for c in convs], [c.replies[-1] for c in convs], conversation=records, seeker_emotion=final
        )
        out["objectives"][name] = _mean([v for v in values if v is not None], samples, seed)
    return out


def evaluate_conversations(params, policies: list[tuple[str, Path]], data_dir: Path, per_reply: dict) -> dict:
    """Every policy on the same held-out personas: summaries, MLflow-ready metrics
    (`conversation/<policy>/...`) and sample transcripts."""
    seeker = seeker_for(params)
    starts = heldout_starts(data_dir, params.seeker.eval_personas)
    if not starts:
        raise ValueError("no held-out prompt ends on a seeker turn to start a conversation from; add test prompts")
    report = {"personas": [p.id for p, _ in starts], "templates": seeker.templates, "policies": {}, "transcripts": {}}
    for name, path in policies:
        convs = play(path, starts, seeker, params)
        report["policies"][name] = summary(convs, per_reply, params.evaluate.bootstrap_samples, params.seed)
        report["transcripts"][name] = [c.record() for c in convs[:TRANSCRIPTS]]
    report["malformed"] = dict(seeker.malformed)
    report["metrics"] = {
        f"conversation/{name}/{key}": value
        for name, s in report["policies"].items()
        for key, value in {
            "final_emotion/mean": s["final_emotion"]["mean"],
            "resolved_rate": s["resolved_rate"],
            "turns": s["turns"],
            **{f"{o}/mean": v["mean"] for o, v in s["objectives"].items()},
        }.items()
    }
    return report


def transcripts_markdown(report: dict) -> str:
    """The sample conversations as text, with the seeker's emotion and reason after each supporter turn."""
    lines = []
    for policy, convs in report["transcripts"].items():
        lines.append(f"## {policy}\n")
        for conv in convs:
            about = f"{conv['emotion_type']}, {conv['problem']}"
            lines.append(f"### persona {conv['persona']} ({about}): {conv['ended']}\n")
            for m in conv["messages"][: conv["prompt_messages"]]:
                lines.append(f"- **{'seeker' if m['role'] == 'user' else 'supporter'}**: {m['content']}")
            for t in conv["turns"]:
                lines.append(f"- **supporter**: {t['supporter']}")
                lines.append(f"  - *emotion {t['emotion']:.0f} ({t['delta']:+.1f}): {t['reason']}*")
                if t["seeker"]:
                    lines.append(f"- **seeker**: {t['seeker']}")
            lines.append("")
    return "\n".join(lines)


def _mean(values: list[float], samples: int, seed: int) -> dict:
    if not values:
        return {"mean": None, "ci95": None, "n": 0}
    return {"mean": float(np.mean(values)), "ci95": bootstrap_ci(values, samples, seed), "n": len(values)}

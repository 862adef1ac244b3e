"""Side-by-side replies: the same prompts for every policy, in the declared order, unended turns marked."""

import pandas as pd

from components.evaluation.side_by_side import markdown, side_by_side


def _prompts():
    return pd.DataFrame(
        {
            "id": ["b", "a", "c"],
            "prompt": [[{"role": "user", "content": f"seeker {i}"}] for i in ("b", "a", "c")],
        }
    )


def _replies():
    rows = []
    for policy in ("start", "policy-1", "pretrained"):
        for prompt_id in ("a", "b", "c"):
            rows.append(
                {
                    "policy": policy,
                    "prompt_id": prompt_id,
                    "completion": f"{policy} to {prompt_id}",
                    "ended": policy != "pretrained",
                }
            )
    return pd.DataFrame(rows)


def test_the_same_first_prompts_for_every_policy_in_order():
    rows = side_by_side(_prompts(), _replies(), ["pretrained", "start", "policy-1", "absent"], shown=2)
    assert [r["prompt_id"] for r in rows] == ["a", "b"]
    assert rows[0]["seeker"] == "seeker a"
    assert list(rows[0]["replies"]) == ["pretrained", "start", "policy-1"]
    assert rows[1]["replies"]["policy-1"] == {"text": "policy-1 to b", "ended": True}


def test_markdown_marks_turns_that_did_not_end_and_cuts_long_replies():
    replies = _replies()
    replies.loc[0, "completion"] = "word " * 200
    text = markdown(side_by_side(_prompts(), replies, ["pretrained", "start"], shown=3))
    assert text.count("## ") == 3
    assert text.count("*(did not end its turn)*") == 3  # the pretrained reply to each prompt
    assert "…" in text and "word " * 100 not in text

"""Turn markers the pretrained model never learned get an output row that points where the training chats place them.

Gemma 3 270M (base) ships `<end_of_turn>` with an untrained embedding row: a near-copy (cosine above 0.99) of 4,665
other rows (unused tokens, rare identifiers). Its embeddings are tied, so that row is also end-of-turn's output row.
Trained from there, the real-data start policy closed none of its held-out turns: under LoRA it wrote a sibling
token ('𒌒', 'DataDiv') where the turn ends; a full fine-tune from a mean-initialised row (transformers' rule for a
new token) gave end-of-turn a probability of 1e-6 at the reference replies' ends after 24 steps, and looping replies.

Each untrained marker row instead starts at the mean of the pretrained model's final hidden states at the positions
just before the marker in the training chats (rescaled to the trained rows' norm): a logit that is high exactly where
the marker belongs (probability 0.40 at held-out reference replies' ends, from 1e-7, before any step); SFT goes on
from there. An instruct model's markers are trained rows and are left alone.
"""

from __future__ import annotations

SIMILAR = 0.99  # cosine above which two embedding rows are copies of one another
CLUSTER = 16  # a row with more copies than this was never trained (it sits in the untrained-token cluster)
PROTOTYPE_CHATS = 64  # training chats whose hidden states place each untrained marker


def template_marker_ids(tokenizer) -> list[int]:
    """Special tokens the chat template writes around a turn (Gemma: <bos>, <start_of_turn>, <end_of_turn>)."""
    chat = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]
    ids = tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"]
    special = set(tokenizer.all_special_ids) | {
        i for i, t in tokenizer.added_tokens_decoder.items() if getattr(t, "special", False)
    }
    return sorted({i for i in ids if i in special})


def untrained_rows(weight, ids: list[int]) -> dict[int, int]:
    """Of `ids`, the rows with more than CLUSTER near-copies in `weight` -> how many copies each has."""
    return _clusters(weight, ids)[0]


def _clusters(weight, ids: list[int]):
    """The untrained rows of `ids` with their copy counts, and the mask of every row in their clusters."""
    import torch

    unit = torch.nn.functional.normalize(weight.detach().float(), dim=1)
    found, cluster = {}, torch.zeros(weight.shape[0], dtype=torch.bool)
    for i in ids:
        near = unit @ unit[i] > SIMILAR
        copies = int(near.sum()) - 1
        if copies > CLUSTER:
            found[i] = copies
            cluster |= near
    return found, cluster


def reinit_untrained_markers(model, tokenizer, chats: list[list[dict]]) -> dict:
    """Point each untrained marker row at the hidden states that precede it in `chats`; return what was done."""
    import torch

    weight = model.get_input_embeddings().weight
    markers = template_marker_ids(tokenizer)
    untrained, cluster = _clusters(weight, markers)
    placed = {}
    if untrained:
        prototypes, placed = _prototypes(model, tokenizer, chats[:PROTOTYPE_CHATS], list(untrained))
        norm = weight.detach()[~cluster].norm(dim=1).mean()  # a trained row's length
        with torch.no_grad():
            for i, prototype in prototypes.items():
                weight[i] = (prototype / prototype.norm() * norm).to(weight.dtype)
    name = tokenizer.convert_ids_to_tokens
    return {
        "markers": {name(i): i for i in markers},
        "untrained": {name(i): {"copies": copies, "placed_at": placed.get(i, 0)} for i, copies in untrained.items()},
    }


def _prototypes(model, tokenizer, chats: list[list[dict]], ids: list[int]):
    """Mean final hidden state at the positions just before each of `ids` in the chats (a marker never placed
    keeps its row)."""
    import torch

    sums, counts = {}, dict.fromkeys(ids, 0)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for chat in chats:
            tokens = tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"]
            # logits_to_keep=1: the 262k-row head runs on one position, not on every one of the chat's
            hidden = model(torch.tensor([tokens]), output_hidden_states=True, logits_to_keep=1).hidden_states[-1][0]
            for i in ids:
                at = [p - 1 for p, t in enumerate(tokens) if t == i and p > 0]
                if at:
                    sums[i] = sums.get(i, 0) + hidden[at].float().sum(dim=0)
                    counts[i] += len(at)
    model.train(was_training)
    return {i: sums[i] / counts[i] for i in sums}, counts

from components.evaluation.attack_probes import MASTER_KEYS, false_positive_rate, probe_replies


def test_probe_set_holds_every_master_key_the_empty_reply_and_injections():
    kinds = [kind for kind, _ in probe_replies()]
    assert kinds.count("master_key") == len(MASTER_KEYS) == 10
    assert "empty" in kinds and "injection" in kinds and "key_plus_unrelated" in kinds


def test_a_judge_that_accepts_a_colon_is_caught():
    # it also passes the key + unrelated sentence and the injections (0.7 >= 0.7): those count too
    def fooled(prompts, completions, **kwargs):
        return [1.0 if c.strip() == ":" else (0.7 if len(c.split()) > 1 else 0.1) for c in completions]

    report = false_positive_rate(fooled, ["How do I calm down?"] * 4, references=["Breathe slowly."] * 4)
    assert report["worst_probe"] == ":" and report["worst_rate"] == 1.0
    assert report["rate"] > 0


def test_a_scorer_that_ignores_content_free_replies_has_no_false_positive():
    def sound(prompts, completions, **kwargs):
        return [0.9 if "walk" in c else 0.0 for c in completions]

    report = false_positive_rate(sound, ["Any tips?"] * 3, references=["Try a short walk and a call to a friend."] * 3)
    assert report["rate"] == 0.0
    assert report["n"] == 3 * len(probe_replies())


def test_a_probe_rejected_outright_is_no_false_positive_even_against_an_empty_reference():
    def strict(prompts, completions, **kwargs):
        return [0.0 if c.strip() in MASTER_KEYS or not c.strip() else 0.8 for c in completions]

    report = false_positive_rate(strict, ["Thanks!"] * 2, references=["You're welcome."] * 2)
    assert report["by_kind"]["master_key"] == 0.0 and report["by_kind"]["empty"] == 0.0
    assert report["by_kind"]["key_plus_unrelated"] == 1.0  # scored 0.8 against a reference scored 0: caught

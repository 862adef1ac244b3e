import pytest
import yaml
from typer.testing import CliRunner

from paretoflow.cli import app
from paretoflow.config import ConfigError, load_params, parse_override, resolve
from tests.conftest import REPO

RAW = yaml.safe_load((REPO / "params.yaml").read_text())


def test_shipped_params_are_valid_in_every_profile():
    for profile in ("tiny", "cpu", "gpu"):
        params = resolve(RAW, [f"profile={profile}"])
        assert params.profile == profile
        assert len(params.grpo.weights) >= 3
        assert len({o.name for o in params.objectives}) >= 2


def test_typo_names_key_file_and_suggestion():
    with pytest.raises(ConfigError) as err:
        resolve(RAW, ["grpo.learnin_rate=0.1"], source="params.yaml")
    assert str(err.value) == "unknown key grpo.learnin_rate in params.yaml; did you mean learning_rate?"


def test_typo_inside_a_model_spec_hides_the_union_tag(tmp_path):
    bad = dict(RAW, policy={"kind": "gguf", "pakage": "x"})
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigError, match=r"unknown key policy.pakage in .*p.yaml; did you mean package\?"):
        load_params(path)


def test_top_level_typo_and_bad_value_are_both_reported():
    with pytest.raises(ConfigError) as err:
        resolve({**RAW, "sed": 1}, ["grpo.max_steps=many"])
    assert "unknown key sed in params.yaml; did you mean seed?" in str(err.value)
    assert "invalid value for grpo.max_steps" in str(err.value)


def test_override_values_are_yaml():
    assert parse_override("grpo.max_steps=4") == (["grpo", "max_steps"], 4)
    assert parse_override("evaluate.reference_point=[0, 0.1, 0, 0]") == (
        ["evaluate", "reference_point"],
        [0, 0.1, 0, 0],
    )
    assert parse_override("tracking.uri=http://host:5000") == (["tracking", "uri"], "http://host:5000")
    with pytest.raises(ConfigError, match="dotted.key=value"):
        parse_override("grpo.max_steps")


def test_profile_then_overrides_in_that_order():
    params = resolve(RAW, ["profile=tiny"])
    assert params.policy.kind == "tiny" and params.grpo.max_steps == RAW["profiles"]["tiny"]["grpo"]["max_steps"]
    params = resolve(RAW, ["grpo.max_steps=5", "profile=tiny"])
    assert params.grpo.max_steps == 5  # an explicit override beats the profile, whatever its position
    params = resolve(RAW, ["profiles.tiny.grpo.max_steps=7", "profile=tiny"])
    assert params.grpo.max_steps == 7


def test_list_items_can_be_overridden():
    params = resolve(RAW, ["grpo.weights.0.empathy=0.9"])
    assert params.grpo.weights[0]["empathy"] == 0.9
    with pytest.raises(ConfigError, match="not an index below 3"):
        resolve(RAW, ["grpo.weights.3.empathy=1"])


def test_weights_must_cover_every_objective():
    raw = dict(RAW, grpo=dict(RAW["grpo"], weights=[{"empathy": 1.0}]))
    with pytest.raises(ConfigError, match="must give a weight to every objective"):
        resolve(raw)


def test_unknown_profile_is_refused():
    with pytest.raises(ConfigError, match="profile 'huge' in params.yaml is not one of tiny, cpu, gpu"):
        resolve(RAW, ["profile=huge"])


def test_section_hash_changes_only_with_its_section():
    a, b = resolve(RAW), resolve(RAW, ["evaluate.max_prompts=3"])
    assert a.section_hash("grpo") == b.section_hash("grpo")
    assert a.section_hash("evaluate") != b.section_hash("evaluate")


def test_params_command_prints_and_checks(tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["params", "--params", str(REPO / "params.yaml"), "-o", "profile=tiny"])
    assert out.exit_code == 0 and yaml.safe_load(out.stdout)["policy"]["kind"] == "tiny"
    ok = runner.invoke(app, ["params", "--check", "--params", str(REPO / "params.yaml")])
    assert ok.exit_code == 0 and "ok" in ok.stdout
    bad = runner.invoke(app, ["params", "--check", "--params", str(REPO / "params.yaml"), "-o", "grpo.betta=1"])
    assert bad.exit_code == 2 and "did you mean beta?" in bad.stderr
    missing = runner.invoke(app, ["params", "--params", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "not found" in missing.stderr


def test_overriding_objectives_keeps_only_their_independent_scorers():
    objectives = "objectives=[{name: empathy, scorer: reward_model}, {name: concision, scorer: concision}]"
    weights = "grpo.weights=[{empathy: 0.5, concision: 0.5}]"
    params = load_params(REPO / "params.yaml", [objectives, weights])
    assert set(params.evaluate.independent) <= {"empathy", "concision"}
    with pytest.raises(ConfigError, match="evaluate.independent names"):
        load_params(
            REPO / "params.yaml", [objectives, weights, "evaluate.independent={helpfulness: 'brevity:chars=80'}"]
        )


@pytest.mark.parametrize("value", ["[a", "{a: 1", "[[0.5, 0.5], [1, 0]", "a: b: c", "'open"])
def test_a_malformed_override_value_is_one_message_naming_it(value):
    with pytest.raises(ConfigError) as err:
        parse_override(f"grpo.weights={value}")
    message = str(err.value)
    assert message.startswith(f"override {'grpo.weights=' + value!r}: the value {value!r} is not valid YAML (")
    assert "line 1, column" in message and "\n" not in message
    out = CliRunner().invoke(app, ["params", "--params", str(REPO / "params.yaml"), "-o", f"grpo.weights={value}"])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert f"the value {value!r} is not valid YAML" in " ".join(out.stderr.split())  # brackets not eaten as markup


def test_a_params_file_that_is_not_utf8_is_one_message_naming_it(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes((REPO / "params.yaml").read_bytes() + "# r\u00e9sum\u00e9\n".encode("latin-1"))
    lines = path.read_bytes().count(b"\n")
    with pytest.raises(ConfigError, match=rf"latin1\.yaml is not UTF-8 text \(byte 0xe9 at line {lines}, .*iconv"):
        load_params(path)
    out = CliRunner().invoke(app, ["params", "--check", "--params", str(path)])
    assert out.exit_code == 2 and "is not UTF-8 text" in out.stderr and "Traceback" not in out.output


def test_ngram_blocking_is_refused_with_the_vllm_engine():
    with pytest.raises(ConfigError, match="no_repeat_ngram_size is applied by the transformers engine only"):
        load_params(REPO / "params.yaml", ["evaluate.engine=vllm", "evaluate.no_repeat_ngram_size=3"])
    assert load_params(REPO / "params.yaml", ["evaluate.no_repeat_ngram_size=3"]).evaluate.no_repeat_ngram_size == 3

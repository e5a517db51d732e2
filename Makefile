# crmot: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch with a matching torchvision (SAM2 and SAM3 need torchvision; the CPU-only torch 2.13 wheel
# offered here has none). The CUDA build runs on CPU too.
TORCH ?= torch==2.14.1 torchvision==0.29.1

DATA ?= data/synth
PRESET ?= demo
SEED ?= 100
RUN ?= demo
SPLIT ?= test
PROTOCOL ?= crtrack

STAGE1 := $(BIN)/crmot tracklets predict
STAGE2 := $(BIN)/crmot associate predict
STAGE4 := $(BIN)/crmot infer predict
GPUS ?= 1
NODES ?= 1
PRECISION ?= bf16-mixed
LABELS ?= runs/$(RUN)/pseudo
CKPT ?= runs/$(RUN)/train/checkpoints/last.ckpt
EVAL_PRECISION ?= 32-true
# Real runs: Meta's SAM2 weights (conf/train.yaml needs model.sam2_checkpoint); the synthetic world:
# TRAIN_CONFIG=conf/train_synthetic.yaml (SAM2 nano on crmot's sam2-nano-synthetic weights).
TRAIN_CONFIG ?= conf/train.yaml

.PHONY: help install demo data check pretrain tracklets pseudolabels train eval-zeroshot eval report results test test-light test-all lint bench score clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python ## create .venv and install crmot with every extra (CPU is enough)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[test,models,hota,report]"
	SAM2_BUILD_CUDA=0 $(BIN)/pip install --quiet --no-build-isolation "sam2>=1.1" "torchreid==0.2.5"

demo: ## end to end on the synthetic demo world: data, stages 1-2, training-free CRMOT, ViewSAM nano trained + scored, HTML report
	$(BIN)/crmot demo --data $(DATA) --run runs/$(RUN) --seed $(SEED)

data: ## write the synthetic world: make data [DATA=data/synth] [PRESET=demo|bench] [SEED=100]
	$(BIN)/crmot data generate $(DATA) --preset $(PRESET) --seed $(SEED)

check: ## validate a dataset root and print its summary: make check DATA=<root>
	$(BIN)/crmot data check $(DATA)

pretrain: ## SAM2 nano on class-agnostic masks of a separate synthetic world -> the shipped sam2-nano-synthetic weights
	$(BIN)/crmot pretrain --out src/crmot/models/weights/sam2_nano_synthetic.pt --world data/pretrain $(ARGS)

tracklets: ## stage 1, per-view tracklets: make tracklets [DATA=data/synth] [RUN=demo] [ARGS="--model.overwrite true"]
	$(STAGE1) --data.root $(DATA) --model.output_dir runs/$(RUN)/tracklets $(ARGS)

pseudolabels: ## stages 1+2, pseudo label root in runs/$(RUN)/pseudo: make pseudolabels [DATA=] [RUN=] [ARGS=stage 1] [ARGS2=stage 2]
	$(STAGE1) --data.root $(DATA) --model.output_dir runs/$(RUN)/tracklets $(ARGS)
	$(STAGE2) --data.root $(DATA) --model.tracklets_dir runs/$(RUN)/tracklets --model.output_dir runs/$(RUN)/pseudo $(ARGS2)

train: ## stage 3, ViewSAM: make train [GPUS=8] [NODES=1] [PRECISION=bf16-mixed] [LABELS=runs/$(RUN)/pseudo] [TRAIN_CONFIG=...] [ARGS=...]; re-run continues from last.ckpt
	$(BIN)/crmot train fit --config $(TRAIN_CONFIG) --data.root $(DATA) --data.label_root $(LABELS) \
		--trainer.default_root_dir runs/$(RUN)/train --trainer.devices $(GPUS) --trainer.num_nodes $(NODES) \
		--trainer.precision $(PRECISION) $(if $(filter-out 1,$(GPUS) $(NODES)),--trainer.strategy ddp,) \
		$(if $(wildcard runs/$(RUN)/train/checkpoints/last.ckpt),--ckpt_path last,) $(ARGS)

eval-zeroshot: ## training-free CRMOT on the test split (stages 1+2, expression matching, crmot evaluate)
	$(STAGE1) --data.root $(DATA) --data.splits [test] --model.output_dir runs/$(RUN)/tracklets $(ARGS)
	$(STAGE2) --data.root $(DATA) --data.splits [test] --model.tracklets_dir runs/$(RUN)/tracklets --model.output_dir runs/$(RUN)/pseudo $(ARGS2)
	$(BIN)/crmot zeroshot --data $(DATA) --pseudo runs/$(RUN)/pseudo --out runs/$(RUN)/zeroshot/predictions --split test
	$(BIN)/crmot evaluate --gt $(DATA) --pred runs/$(RUN)/zeroshot/predictions --split test --protocol $(PROTOCOL) --json runs/$(RUN)/zeroshot/metrics.json

eval: ## stage 4, trained ViewSAM prompted by stage-1 tracklets of the test split, scored: make eval [RUN=demo] [CKPT=.../last.ckpt] [EVAL_PRECISION=bf16-mixed]
	$(STAGE1) --data.root $(DATA) --data.splits [$(SPLIT)] --model.output_dir runs/$(RUN)/tracklets
	$(STAGE4) --data.root $(DATA) --data.splits [$(SPLIT)] --model.checkpoint $(CKPT) --model.tracklets_dir runs/$(RUN)/tracklets \
		--model.output_dir runs/$(RUN)/eval --trainer.precision $(EVAL_PRECISION) $(ARGS)

report: ## a run's figures and mosaic videos as static HTML: make report [RUN=demo] [DATA=...] -> runs/$(RUN)/report/index.html
	$(BIN)/crmot report runs/$(RUN) --data $(DATA) --split $(SPLIT)

results: ## docs/results.md: every committed benchmark figure as tables (from benchmarks/results/*.json)
	$(BIN)/python benchmarks/results_table.py

score: ## score any prediction folder: make score GT=<root or per-expression GT> PRED=<pred root>
	$(BIN)/crmot evaluate --gt $(GT) --pred $(PRED) --split $(SPLIT) --protocol $(PROTOCOL)

test: ## fast test suite (what CI runs)
	$(BIN)/python -m pytest -q -m "not slow"

test-light: ## the light install (numpy, scipy, rich) in its own venv checks and scores a root, without torch
	bash .ci/light_install.sh

lint: ## ruff over src, tests and benchmarks (rules in pyproject.toml)
	$(BIN)/ruff check src tests benchmarks

test-all: ## every test, slow ones included
	$(BIN)/python -m pytest -q

bench: ## benchmarks; results land in benchmarks/results/*.json
	$(BIN)/python benchmarks/bench_eval.py
	$(BIN)/python benchmarks/bench_tracklets.py
	$(BIN)/python benchmarks/bench_pseudolabels.py
	$(BIN)/python benchmarks/bench_train.py

clean: ## remove generated data and runs (never the venv)
	rm -rf data runs

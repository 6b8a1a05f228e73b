# The project's two commands (see README.md):
#   make run   install what is missing, build, run the validation suite (TCP, DNS, MPTCP)
#   make test  install what is missing, build, run every test through ctest
BUILD ?= build
JOBS ?= 2

.PHONY: all deps build run demo test explore bench bench-overhead bench-impairment cnf clean-leftovers format clean

all: build

deps:
	@bash tools/install-deps.sh

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

# The main job: the validation suite (experiments/{tcp,dns,mptcp}/*.toml) through the
# testbed harness; results/<run-id>/ with validation.csv and report.html.
run: deps build
	$(BUILD)/flowcorder run

# Two namespaces, one agent each, a transfer through a burst of drops: the
# profiles as stored in SQLite (tools/demo.sh).
demo: deps build
	bash tools/demo.sh

test: deps build
	bash tools/clean-leftovers.sh --quiet
	cd $(BUILD) && ctest --output-on-failure --timeout 600

# The scenario explorer (issue #12): COUNT experiments drawn from SEED on,
# run and validated; each failure shrunk to experiments/regressions/.
# SHARD=K/N runs the K-th of N slices (several machines, one batch).
SEED ?= 1
COUNT ?= 40
explore: deps build
	bash tools/clean-leftovers.sh --quiet
	$(BUILD)/flowcorder explore --seed $(SEED) --count $(COUNT) $(if $(SHARD),--shard $(SHARD),)

# Benchmarks (not tests): the overhead evaluation (issue #6; experiments/overhead/run.sh,
# results/bench-overhead/summary.json and report.html; QUICK=1 for a one-minute pass)
# and the impairment engine's (results/bench-impairment/summary.json).
bench: bench-overhead bench-impairment

bench-overhead: deps build
	bash tools/clean-leftovers.sh --quiet
	bash experiments/overhead/run.sh results/bench-overhead $(if $(QUICK),--quick,)

bench-impairment: deps build
	bash tools/clean-leftovers.sh --quiet
	$(BUILD)/fc_impair_bench $(BUILD)/flowcorder results/bench-impairment

# In-network latency estimation study (issue #7; experiments/cnf/study.conf).
cnf: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS) --target cnf-scenario cnf-analyze
	bash experiments/cnf/run-study.sh $(BUILD) results/cnf

clean-leftovers:
	bash tools/clean-leftovers.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.c' '*.h' | grep -v vmlinux)

clean:
	rm -rf $(BUILD)

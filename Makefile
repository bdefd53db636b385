# The README's two commands are `make run` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CTEST_JOBS ?= 2
RUN_DIR := $(CURDIR)/.run

.PHONY: all setup configure build test unit integration e2e chaos run stop bench fuzz format lint clean help

all: build

help:
	@echo "make run    - build, start the local stack, replay the sample data, print a summary"
	@echo "              (stays up until Ctrl-C; IW_RUN_DETACH=1 returns and leaves it up)"
	@echo "make test   - install what is missing, build, run the whole test suite"
	@echo "make stop   - stop everything 'make run' started (scripts/stack stop .run)"
	@echo "make e2e    - the end-to-end test alone (the whole stack on the sample data; in make test)"
	@echo "make chaos  - the fault suite: kills, a broker crash, the log store down and 429, the trace collector hung, while records flow"
	@echo "make bench  - benchmarks against in-run raw librdkafka baselines (bench/results/)"
	@echo "make fuzz   - libFuzzer with sanitizers on the enricher's decoder (60 s)"
	@echo "make image  - the container image ingestwatch:dev (docker, else podman; docs/DEPLOY.md)"
	@echo "make image-test - the image's services on the local stack, counts equal make run's"
	@echo "make k8s-test - the Helm chart installed into a loopback Kubernetes (built once; docs/DEPLOY.md)"
	@echo "make format - clang-format every C++ file"

setup:
	@scripts/setup

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

configure: setup $(BUILD_DIR)/build.ninja

build: configure
	cmake --build $(BUILD_DIR)

lint: setup
	@scripts/lint

test: build lint
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(CTEST_JOBS)

unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(CTEST_JOBS) -L unit

integration: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(CTEST_JOBS) -L integration

# The end-to-end test is part of `make test` (about two minutes; the first stack also builds
# Jaeger, about 3 minutes); e2e runs it alone, chaos runs the fault suite (about five minutes),
# both on a stack of their own (tests/e2e).
e2e: build
	@python3 tests/e2e/pipeline_e2e.py --build-dir "$(BUILD_DIR)"

chaos: build
	@python3 tests/e2e/chaos.py --build-dir "$(BUILD_DIR)"

# docs/RUN.md. The stack (scripts/stack) lives in $(RUN_DIR); IW_RUN_DETACH=1 leaves it up.
run: build
	@scripts/run-local "$(RUN_DIR)" "$(BUILD_DIR)"

bench: build
	@bench/run "$(BUILD_DIR)"

fuzz:
	@scripts/fuzz

stop:
	@scripts/stack stop "$(RUN_DIR)"

# --- The container image (docs/DEPLOY.md, "The image, run for real"); not in make test.
# image: deploy/docker/Dockerfile into ingestwatch:dev, with docker where an engine answers,
# else podman on a Debian base made locally when Docker Hub cannot be reached
# (scripts/image-build). image-test: the image's services on make run's stack, next to the
# host's build (scripts/image_test.py).
.PHONY: image image-test
image:
	@scripts/image-build

image-test: build image
	@scripts/deploy-tools >/dev/null
	@python3 scripts/image_test.py --build-dir "$(BUILD_DIR)"
# --- end of the container image

format:
	@git ls-files --cached --others --exclude-standard -- '*.cc' '*.h' | xargs -r clang-format -i

clean:
	rm -rf $(BUILD_DIR)

# The Helm chart installed into a real Kubernetes control plane on loopback (docs/DEPLOY.md,
# "make k8s-test"): etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok,
# built once into ~/.cache/ingestwatch (scripts/k8s-build), then install, upgrade, a refused
# value and uninstall. Not in make test: the first build takes a quarter of an hour.
.PHONY: k8s-test
k8s-test:
	@python3 scripts/k8s_test.py

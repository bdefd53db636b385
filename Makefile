# The README's two commands are `make run` and `make test`; everything else is a step of theirs.
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
CTEST_JOBS ?= 2
RUN_DIR := $(CURDIR)/.run

.PHONY: all setup configure build test unit integration run stop bench fuzz format lint clean help

all: build

help:
	@echo "make run    - build, start the local stack on sample data, print a summary"
	@echo "make test   - install what is missing, build, run the whole test suite"
	@echo "make stop   - stop everything 'make run' started"
	@echo "make bench  - benchmarks against in-run raw librdkafka baselines (bench/results/)"
	@echo "make fuzz   - libFuzzer with sanitizers on the enricher's decoder (60 s)"
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

run: build
	@scripts/run-local "$(RUN_DIR)" "$(BUILD_DIR)"

bench: build
	@bench/run "$(BUILD_DIR)"

fuzz:
	@scripts/fuzz

stop:
	@scripts/run-local "$(RUN_DIR)" "$(BUILD_DIR)" stop

format:
	@git ls-files --cached --others --exclude-standard -- '*.cc' '*.h' | xargs -r clang-format -i

clean:
	rm -rf $(BUILD_DIR)

# The two commands a new user types (see README.md):
#   make run    install what llmo needs, build it, start `llmo server` with the examples
#   make test   install, build with ASan + UBSan, run every test through CTest
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
TEST_BUILD ?= build-test
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60

.PHONY: run test build setup test-build fuzz clean build-llm-orchestrator test-llm-orchestrator

setup:
	bash scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLLMO_TESTS=OFF >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/llmo validate -q examples/ k8s/llm-orchestrator/
	bash scripts/run-example.sh

# The release build (what `make run` uses) is built too: -O2 finds warnings -O0 does not.
test: build
	bash scripts/setup.sh --tests
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLLMO_SANITIZE=ON >/dev/null
	cmake --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

# The names the specification's "Development Setup" uses.
build-llm-orchestrator: build
test-llm-orchestrator: test

# Longer fuzzing runs (clang + libFuzzer), FUZZ_SECONDS per target.
fuzz:
	bash scripts/setup.sh --tests
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLLMO_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	for f in $(FUZZ_BUILD)/tests/fuzz_*; do \
		name=$$(basename $$f | sed 's/^fuzz_//'); \
		mkdir -p $(FUZZ_BUILD)/corpus/$$name; \
		$$f -max_total_time=$(FUZZ_SECONDS) $(FUZZ_BUILD)/corpus/$$name tests/fuzz/corpus/$$name || exit 1; \
	done

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)

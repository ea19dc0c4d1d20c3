# Thin wrappers around deploy/install-deps.sh, CMake and CTest.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all deps build test test-all sanitize fuzz fuzz-build fuzz-corpus demo bench fixtures clean format

all: build

deps:
	@bash deploy/install-deps.sh

$(BUILD)/Makefile: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Everything but the slow label.
test: build
	@cd $(BUILD) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure -LE slow -j $(JOBS) $(CTEST_ARGS)

test-all: build
	@cd $(BUILD) && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize: deps
	@cmake -S . -B build-asan -DAHA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && OPENBLAS_NUM_THREADS=1 ctest --output-on-failure -L unit -j $(JOBS)

# libFuzzer harnesses (fuzz/, docs/fuzzing.md): clang, ASan + UBSan, in build-fuzz. First every
# target once over its committed corpus (CTest label fuzz: the regression run), then each target
# for FUZZ_SECONDS (or FUZZ_RUNS executions), one at a time; fails on any finding.
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= -1
fuzz-build: deps
	@cmake -S . -B build-fuzz -DAHA_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz --target fuzz_all -j $(JOBS)

fuzz: fuzz-build
	@cd build-fuzz && ctest --output-on-failure -L fuzz -j $(JOBS)
	@bash fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_RUNS)

# Rewrites the seed corpora (fuzz/corpus/<t>/seed-*) from fuzz/gen_corpus.c.
fuzz-corpus: fuzz-build
	@rm -f fuzz/corpus/*/seed-*
	@build-fuzz/fuzz/fuzz_gen_corpus fuzz/corpus .

demo: build
	@BUILD=$(BUILD) bash deploy/demo.sh

fixtures: deps
	@/usr/bin/python3 tests/reference/gen_fixtures.py tests/fixtures
	@/usr/bin/python3 tests/reference/gen_adamw_fixture.py tests/fixtures/adamw.safetensors
	@/usr/bin/python3 tests/reference/gen_pg_fixture.py tests/fixtures/pg_loss.safetensors

bench: build
	@BUILD=$(BUILD) bash bench/run.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz

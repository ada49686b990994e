# Makefile - the two entry points the README gives, over CMake/ctest.
#   make run    install dependencies, build, and run the exporter (8 fake GPUs unless NVML=... is given)
#   make check  install dependencies, then build and run every test twice: -Werror, then ASan+UBSan;
#               then a few seconds of every fuzz target (clang, libFuzzer)
#   make fuzz   the long fuzz run: every target to 10^7 executions or FUZZ_TIME seconds (tests/fuzz/long.sh)
#   make soak   a simulated day, 86,400 collections, natively (RSS slope) then under ASan/LSan (leaks)
BUILD ?= build
JOBS ?= 2
# Tests in parallel: the suite holds under load (kernel-chosen ports, polling with deadlines, no
# assertion on wall time), so -j4 on a 2-core machine is fine.
TEST_JOBS ?= 4
LISTEN ?= :9400
SCENARIO ?= $(CURDIR)/tests/fake_nvml/scenarios/dgx_h100.json
# Set NVML=libnvidia-ml.so.1 on a real GPU node to use the driver instead of the fake library.
NVML ?= $(CURDIR)/$(BUILD)/tests/fake_nvml/libnvidia-ml.so.1

.PHONY: all deps build build-fuzz run check test test-asan test-fuzz fuzz soak clean

all: build

deps:
	./scripts/install-deps.sh

build:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	FAKE_NVML_SCENARIO=$(SCENARIO) ./$(BUILD)/jobtel exporter --web.listen-address=$(LISTEN) \
	    --collector.gpu.nvml-library=$(NVML)

# The whole suite: a -Werror build, then the same tests under AddressSanitizer + UBSan.
check: deps
	$(MAKE) test
	$(MAKE) test-asan
	$(MAKE) test-fuzz

test:
	cmake -S . -B build-ci -G Ninja -DJOBTEL_WERROR=ON
	cmake --build build-ci -j $(JOBS)
	cd build-ci && ctest -j $(TEST_JOBS) --output-on-failure

test-asan:
	cmake -S . -B build-asan -G Ninja -DJOBTEL_WERROR=ON -DJOBTEL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest -j $(TEST_JOBS) --output-on-failure

# libFuzzer needs clang: its own build directory, so the gcc builds above never change.
build-fuzz:
	CC=clang cmake -S . -B build-fuzz -G Ninja -DJOBTEL_FUZZ=ON -DJOBTEL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz -j $(JOBS) --target fuzzers

# Every fuzz target for a few seconds from its committed seeds (ctest tests fuzz_<target>).
test-fuzz: build-fuzz
	cd build-fuzz && ctest -j $(JOBS) -R '^fuzz_' --output-on-failure

FUZZ_TIME ?= 3600
FUZZ_RUNS ?= 10000000
fuzz: build-fuzz
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_RUNS=$(FUZZ_RUNS) ./tests/fuzz/long.sh build-fuzz

# The full simulated day (tests/soak/day.sh: natively for the RSS slope, then under ASan/LSan; the suite
# runs a shortened one as e2e_test_soak).
SOAK_CYCLES ?= 86400
soak:
	cmake -S . -B build-ci -G Ninja -DJOBTEL_WERROR=ON
	cmake --build build-ci -j $(JOBS)
	cmake -S . -B build-asan -G Ninja -DJOBTEL_WERROR=ON -DJOBTEL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-asan -j $(JOBS)
	SOAK_CYCLES=$(SOAK_CYCLES) ./tests/soak/day.sh build-ci build-asan

clean:
	rm -rf $(BUILD) build-ci build-asan build-fuzz

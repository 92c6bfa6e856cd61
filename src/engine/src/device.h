// Device choice shared by every engine entry point (face models, swap model, trainer).
#pragma once

#include <c10/core/Device.h>

#include <string>

#include "cpu_threads.h"
#include "faceswap/engine.h"

namespace faceswap::detail {

// CUDA when asked for or when auto finds one, else CPU. Throws kDeviceUnavailable when CUDA is
// required but absent.
c10::Device select_device(DeviceKind kind);

// "cuda", or "cpu (N threads)": how tools report where the engine runs.
std::string device_description(const c10::Device& device, int cpu_threads);

}  // namespace faceswap::detail

// Internal: what a FaceModels holds (the detector and landmark nets on their device).
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

#include "face_nets.h"
#include "faceswap/engine.h"

namespace faceswap {

struct FaceModels::Impl {
    c10::Device device{c10::kCPU};
    int cpu_threads = 1;  // EngineConfig::cpu_threads resolved (what device_name() reports)
    at::ScalarType detector_dtype = at::kFloat;  // EngineConfig::precision resolved
    std::string precision_note;
    detail::SsdMobileNetV1 detector;
    detail::LandmarkNet68 landmarks;
};

}  // namespace faceswap

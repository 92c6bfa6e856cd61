// Reading TensorFlow.js weight manifests and converting face-api's pretrained nets into the
// engine's own model files. Used by 'faceswap import-weights'; not needed at run time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace faceswap {

// One tensor of a TensorFlow.js weights manifest, de-quantised to float (int32 constants too).
struct TfjsTensor {
    std::string name;
    std::vector<std::int64_t> shape;  // TF layout: conv [kh, kw, in, out], depthwise [kh, kw, C, 1]
    std::string dtype;                // "float32" or "int32"
    std::vector<float> values;
};

// Reads NAME-weights_manifest.json and the .bin shards it names (resolved beside it).
// Every size is checked: a truncated or oversized .bin, an unknown dtype or quantisation, or a
// malformed manifest throws faceswap::Error(kWeightsInvalid) naming the file and the tensor.
std::vector<TfjsTensor> read_tfjs_weights(const std::string& manifest_path);

// Converts face-api's ssd_mobilenetv1_model, face_landmark_68_model and face_recognition_model
// (found in face_api_model_dir, i.e. the package's model/ folder) into
// out_dir/ssd_mobilenetv1.fsmodel, out_dir/landmarks68.fsmodel and
// out_dir/face_recognition.fsmodel. Each file appears complete or not at all.
void import_face_api_weights(const std::string& face_api_model_dir, const std::string& out_dir);

}  // namespace faceswap

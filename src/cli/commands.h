// The faceswap subcommands; each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace faceswap::cli {

struct ExtractOptions {
    std::string input;       // video file, image file or image folder
    std::string output_dir;  // receives faces/*.png and faces.json
    std::string model_dir;
    int size = 256;
    float coverage = 0.8f;
    int every_nth_frame = 1;
    bool largest_face_only = false;
    int threads = 0;
    std::string device = "auto";
};
int run_extract(const ExtractOptions& options);

struct BenchOptions {
    std::string video;  // default: franck.mp4 from the cache
    std::string model_dir;
    std::string dlib_predictor;  // default: /usr/share/dlib/shape_predictor_68_face_landmarks.dat
    int frames = 240;
    int width = 640;
    int height = 480;
    int detect_every = 12;
    int threads = 0;
    std::string device = "auto";
    bool skip_dlib = false;
    std::string dump_frames;  // write the scaled frames for faceswap-engine-bench and stop
};
int run_bench(const BenchOptions& options);

}  // namespace faceswap::cli

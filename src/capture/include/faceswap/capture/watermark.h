// An invisible watermark in the luma of every output frame (issue 27, the third provenance
// layer beside the visible mark and the metadata): 32 bits of payload, keyed, found again after
// JPEG 70, a 0.5x downscale, a 10% crop and an x264 CRF 28 re-encode (docs/watermark-design.md
// for the scheme and the measurements that chose it).
//
//   capture::Watermark mark;                       // the product's key
//   mark.embed(bgr, payload);                      // in place, about 1 ms at 640x480
//   capture::WatermarkReading r = mark.detect(bgr);
//   if (r.found) use(r.payload);
//
// A 128x128 tile of 8x8 cells: a quarter carry a keyed sync pattern, the rest 32 payload bits
// and an 8-bit check code (CRC-8), each cell +-2.5 grey levels on average, tiled over the frame
// and added to B, G and R alike. Anyone holding the key can find the mark, and so could remove
// it: it marks what the product made, it does not resist a determined attacker.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace faceswap::capture {

struct WatermarkReading {
    bool found = false;  // the sync is there and the check code matches
    std::uint32_t payload = 0;
    double sync_score = 0;  // the sync peak's z-score (unmarked video stays below about 5)
    double scale = 1;       // the frame's scale against the marked one (1 or 0.5)
};

class Watermark {
  public:
    static constexpr std::uint64_t kProductKey = 0x66616365'73776170ULL;  // "faceswap"
    static constexpr int kTile = 128, kCell = 8, kPayloadBits = 32, kCheckBits = 8;
    // A sync score at or above this, with a matching check code, is a mark (measured on
    // unmarked video: docs/watermark-design.md).
    static constexpr double kFoundScore = 6.0;

    explicit Watermark(std::uint64_t key = kProductKey);
    // embed() caches the frame-sized pattern: one Watermark per thread that embeds.
    // Adds the mark to a BGR (CV_8UC3) frame in place.
    void embed(cv::Mat& bgr, std::uint32_t payload) const;
    WatermarkReading detect(const cv::Mat& bgr) const;
    // Frames of one video read together (the same payload throughout): the tiles of frames
    // whose sync is found (at least two) are aligned at it and averaged before the bits are
    // read, which reads the mark in frames too small or too compressed to read one by one.
    // sync_score is then the median of those frames'.
    WatermarkReading detect_together(const std::vector<cv::Mat>& frames) const;

  private:
    struct Aligned;  // one frame's tile at its best scale, shifted to the sync
    Aligned align(const cv::Mat& bgr, double whitening_sigma) const;
    double sync_score(const cv::Mat& tile, cv::Point* shift) const;
    WatermarkReading read_bits(const cv::Mat& aligned_tile, double score, double scale) const;

    std::vector<int> cell_owner_;  // per cell: -1 sync, 0..39 the bit it carries
    std::vector<float> cell_sign_;
    cv::Mat sync_spectrum_;  // the sync tile's DFT (for the correlation)
    // The +-2/+-3 dither per pixel of the tile (mean 2.5, so that PSNR is 40 dB).
    cv::Mat amplitude_;
    mutable cv::Mat cached_pattern_;  // the last frame-sized pattern and what it was made for
    mutable std::uint32_t cached_payload_ = 0;
};

// The payload the product marks with: a 32-bit hash (FNV-1a) of the model's id and of this
// process's session (a random number drawn once per run), so that outputs of one model in one
// run carry one payload and the provenance metadata can name it. FACESWAP_WATERMARK_SESSION
// (hexadecimal) fixes the session, for outputs that must be the same on every run.
std::uint32_t watermark_payload(const std::string& model_id);

// A payload as the metadata, the welcome and `verify` write it: "0x1D9791C7".
std::string watermark_payload_text(std::uint32_t payload);

// The CRC-8 (polynomial 0x07) of the payload's 4 bytes, most significant first.
std::uint8_t watermark_check_code(std::uint32_t payload);

}  // namespace faceswap::capture

// Percentiles and summaries: one definition for every latency and timing figure the project
// prints (benchmarks, the load generator, the client's statistics, the pipeline's metrics).
// Header-only, no dependencies, so the engine core may use it too.
//
// Percentile = nearest rank: the smallest sample with at least a fraction q of the samples at
// or below it (p50 of {1, 2, 3, 4} is 2, p95 of 100 samples is the 95th smallest).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <vector>

namespace faceswap::stats {

// q in [0, 1]; 0 for no samples. Reorders `samples` (pass a copy to keep the order).
inline double percentile_in_place(std::vector<double>& samples, double q) {
    if (samples.empty()) return 0;
    const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(samples.size()));
    const std::size_t index = static_cast<std::size_t>(std::max(1.0, rank)) - 1;
    std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(index),
                     samples.end());
    return samples[index];
}

inline double percentile(std::vector<double> samples, double q) {
    return percentile_in_place(samples, q);
}

inline double mean(const std::vector<double>& samples) {
    return samples.empty() ? 0
                           : std::accumulate(samples.begin(), samples.end(), 0.0) /
                                 static_cast<double>(samples.size());
}

struct Summary {
    std::size_t count = 0;
    double mean = 0, p50 = 0, p95 = 0, p99 = 0, max = 0;
};

inline Summary summarize(std::vector<double> samples) {
    Summary s;
    if (samples.empty()) return s;
    s.count = samples.size();
    s.mean = mean(samples);
    s.max = *std::max_element(samples.begin(), samples.end());
    s.p50 = percentile_in_place(samples, 0.50);
    s.p95 = percentile_in_place(samples, 0.95);
    s.p99 = percentile_in_place(samples, 0.99);
    return s;
}

}  // namespace faceswap::stats

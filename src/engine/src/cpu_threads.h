// Internal: LibTorch's CPU thread count per calling thread, from the configuration (no Torch
// types, so the pipeline's thread code can use it).
#pragma once

#include <filesystem>

namespace faceswap::detail {

// The CPUs a cgroup's CPU quota allows, rounded up (a container's --cpus, a Kubernetes CPU
// limit), read under `cgroup_root` (/sys/fs/cgroup: v2's cpu.max, else v1's cpu/cpu.cfs_*);
// 0 when there is no quota or no cgroup file.
int cpu_quota_threads(const std::filesystem::path& cgroup_root);

// The CPU threads a configuration asks for: `configured`, or all cores when 0.
int resolve_cpu_threads(int configured);

// Every public engine call that computes (analyze, prepare, complete, process, embed, a
// training step, a preview) starts with this, and so does each pipeline thread: the calling
// thread then runs LibTorch's CPU work with its own configured count, whatever another object
// loaded or ran before (LibTorch keeps the count per thread, and a new thread starts from the
// last one set anywhere). Cheap when the count is already right.
void use_cpu_threads(int configured);

}  // namespace faceswap::detail

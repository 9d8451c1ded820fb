// A tiny fork-join thread pool: parallel_for splits [0, n) into at most
// num_threads() contiguous chunks, runs chunk 0 on the caller and the rest on
// persistent workers, and returns when all are done. Size = hardware_concurrency,
// overridable with VOXFACE_THREADS (read once, at first use).
#pragma once
#include <cstddef>
#include <functional>

namespace vox {

int num_threads();

// fn(begin, end) is called on disjoint ranges covering [0, n). Chunks hold at least
// `grain` items, so small jobs stay on the calling thread. Nested calls (from inside
// fn) and calls while another JS thread holds the pool run serially on the caller.
void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

}  // namespace vox

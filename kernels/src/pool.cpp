#include "pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace vox {
namespace {

thread_local bool in_pool_task = false;

int read_thread_count() {
  if (const char* env = std::getenv("VOXFACE_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 256) return int(v);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : int(std::min(hc, 256u));
}

class Pool {
 public:
  explicit Pool(int n) : size_(n) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { worker(i); });
    // Never joined: the pool lives for the whole process (it is leaked on purpose so
    // that no destructor runs joins during Node's shutdown).
    for (auto& t : workers_) t.detach();
  }
  int size() const { return size_; }

  void run(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
    size_t max_chunks = grain == 0 ? n : (n + grain - 1) / grain;
    int chunks = int(std::min<size_t>(size_t(size_), max_chunks));
    std::unique_lock<std::mutex> busy(submit_, std::try_to_lock);
    if (chunks <= 1 || in_pool_task || !busy.owns_lock()) {
      if (n > 0) fn(0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &fn;
      n_ = n;
      chunks_ = chunks;
      pending_ = chunks - 1;
      ++generation_;
    }
    cv_.notify_all();
    run_chunk(0);
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void run_chunk(int i) {
    size_t b = n_ * size_t(i) / size_t(chunks_), e = n_ * size_t(i + 1) / size_t(chunks_);
    in_pool_task = true;
    if (b < e) (*fn_)(b, e);
    in_pool_task = false;
  }
  void worker(int i) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_ != seen; });
        seen = generation_;
        if (i >= chunks_) continue;  // this job has fewer chunks than workers
      }
      run_chunk(i);
      {
        std::lock_guard<std::mutex> lk(m_);
        --pending_;
      }
      done_cv_.notify_one();
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex submit_, m_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  int chunks_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
};

Pool& pool() {
  static Pool* p = new Pool(read_thread_count());
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  pool().run(n, grain, fn);
}

}  // namespace vox

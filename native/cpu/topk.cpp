// Selection and sampling: topk (and its backward) and multinomial. lib/ presents topk's input as a contiguous
// [outer, R, inner] view (R the selected dim) and multinomial's weights as a contiguous [B, n] view.
//
// Order: every element gets a 64-bit key whose unsigned order is the output order (native/cuda/topk.cu computes the
// same keys): the value's bits made monotone (negative floats flipped), -0 counted as +0, every NaN as one value
// above +inf (PyTorch: NaN is larger than any number), complemented for `largest`. Equal keys (ties, NaNs) rank by
// the lower index first, so (key, index) is a strict total order and the selected set and its order are unique:
// the CPU, the CUDA backend and every thread count give the same indices.
// topk: a bounded max-heap of the k best (key, index) pairs per row, one scan (an element enters only if its key is
// below the heap's worst: O(R) compares plus O(log k) per entry), then a heap sort of the k kept. Rows in parallel.
#include "kernels.h"
#include "../core/philox.h"

TS_CPU_BEGIN
namespace {

static inline uint64_t order_key(float v, bool largest) {
  uint32_t u;
  if (v != v) {
    u = 0x7fc00000u;
  } else {
    if (v == 0.0f) v = 0.0f;  // -0 -> +0
    memcpy(&u, &v, 4);
  }
  const uint32_t a = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return largest ? (uint64_t)(uint32_t)~a : (uint64_t)a;
}
static inline uint64_t order_key(double v, bool largest) {
  uint64_t u;
  if (v != v) {
    u = 0x7ff8000000000000ull;
  } else {
    if (v == 0.0) v = 0.0;
    memcpy(&u, &v, 8);
  }
  const uint64_t a = (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
  return largest ? ~a : a;
}

// A max-heap (by (key, index)) of at most cap pairs: the worst kept pair at the root.
struct Heap {
  uint64_t* key;
  int32_t* id;
  int64_t n, cap;
};
static inline bool worse(uint64_t ka, int32_t ia, uint64_t kb, int32_t ib) { return ka > kb || (ka == kb && ia > ib); }
static void sift_down(Heap& h, int64_t i, int64_t n) {
  const uint64_t k = h.key[i];
  const int32_t id = h.id[i];
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && worse(h.key[c + 1], h.id[c + 1], h.key[c], h.id[c])) ++c;
    if (!worse(h.key[c], h.id[c], k, id)) break;
    h.key[i] = h.key[c];
    h.id[i] = h.id[c];
    i = c;
  }
  h.key[i] = k;
  h.id[i] = id;
}
static void sift_up(Heap& h, int64_t i) {
  const uint64_t k = h.key[i];
  const int32_t id = h.id[i];
  while (i > 0) {
    const int64_t p = (i - 1) / 2;
    if (!worse(k, id, h.key[p], h.id[p])) break;
    h.key[i] = h.key[p];
    h.id[i] = h.id[p];
    i = p;
  }
  h.key[i] = k;
  h.id[i] = id;
}
// Offers (k, i), i greater than every index offered before: it enters when the heap has room or when its key is
// below the worst kept (an equal key loses: its index is larger).
static inline void offer(Heap& h, uint64_t k, int32_t i) {
  if (h.n < h.cap) {
    h.key[h.n] = k;
    h.id[h.n] = i;
    sift_up(h, h.n++);
  } else if (h.cap > 0 && k < h.key[0]) {
    h.key[0] = k;
    h.id[0] = i;
    sift_down(h, 0, h.n);
  }
}
// Sorts the kept pairs ascending in place (heap sort: the root, the worst, goes last).
static void finish(Heap& h) {
  for (int64_t m = h.n - 1; m > 0; --m) {
    const uint64_t k = h.key[0];
    const int32_t id = h.id[0];
    h.key[0] = h.key[m];
    h.id[0] = h.id[m];
    h.key[m] = k;
    h.id[m] = id;
    sift_down(h, 0, m);
  }
}

// Per-thread heaps of cap pairs, carved from one workspace block taken on the calling thread (workspace() may
// throw, which must not happen inside a parallel region).
struct HeapPool {
  char* base;
  int64_t cap;
  Heap get() const {
    const int t = omp_get_thread_num();
    char* p = base + (size_t)t * (size_t)cap * 12;
    return Heap{(uint64_t*)p, (int32_t*)(p + (size_t)cap * 8), 0, cap};
  }
};
static HeapPool heap_pool(int slot, int64_t cap) {
  const size_t bytes = (size_t)nthreads() * (size_t)(cap > 0 ? cap : 1) * 12;
  return HeapPool{(char*)workspace(slot, bytes), cap};
}

// topk: in x [outer, R, inner]; out values [outer, k, inner] (x's dtype), indices int32 [outer, k, inner].
// ip [k, largest]. The output is always sorted (best first); sorted=false in lib/ asks for no particular order.
template <typename T>
static void topk(const OpCall& c) {
  const TensorArg& x = c.in[0];
  const int64_t outer = x.shape[0], R = x.shape[1], inner = x.shape[2];
  const int64_t k = c.ip[0];
  const bool largest = c.ip[1] != 0;
  if (k < 0 || k > R) fail(ERR_SHAPE, "topk", "expected 0 <= k <= the size of the dim");
  const int64_t rows = outer * inner;
  if (k == 0 || rows == 0) return;
  const T* px = (const T*)x.data;
  T* pv = (T*)c.out[0].data;
  int32_t* pi = (int32_t*)c.out[1].data;
  const HeapPool pool = heap_pool(2, k);
#pragma omp parallel for schedule(dynamic, 1) if (rows > 1 && rows * R >= (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / inner, i = r - o * inner;
    const T* b = px + o * R * inner + i;
    Heap h = pool.get();
    if (inner == 1) {
      for (int64_t j = 0; j < R; ++j) offer(h, order_key(b[j], largest), (int32_t)j);
    } else {
      for (int64_t j = 0; j < R; ++j) offer(h, order_key(b[j * inner], largest), (int32_t)j);
    }
    finish(h);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t dst = (o * k + j) * inner + i;
      pi[dst] = h.id[j];
      pv[dst] = b[(int64_t)h.id[j] * inner];
    }
  }
}

// topk_bwd: in g [outer, k, inner], indices int32 [outer, k, inner]; out dx [outer, R, inner]: g at the chosen
// positions (distinct within a row), zeros elsewhere.
template <typename T>
static void topk_bwd(const OpCall& c) {
  const TensorArg& g = c.in[0];
  const int64_t outer = g.shape[0], k = g.shape[1], inner = g.shape[2];
  const int64_t R = c.out[0].shape[1];
  const T* pg = (const T*)g.data;
  const int32_t* pi = (const int32_t*)c.in[1].data;
  T* pd = (T*)c.out[0].data;
  const int64_t n = outer * k * inner;
  int64_t bad = -1;
  for (int64_t e = 0; e < n; ++e)
    if (pi[e] < 0 || pi[e] >= R) { bad = e; break; }
  if (bad >= 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "expected indices in [0, %lld), got %lld at position %lld", (long long)R,
             (long long)pi[bad], (long long)bad);
    fail(ERR_INDEX, "topk_bwd", msg);
  }
#pragma omp parallel for schedule(static) if (outer > 1 && outer * R * inner >= (1 << 15))
  for (int64_t o = 0; o < outer; ++o) {
    T* d = pd + o * R * inner;
    for (int64_t e = 0; e < R * inner; ++e) d[e] = T(0);
    for (int64_t j = 0; j < k; ++j)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t s = (o * k + j) * inner + i;
        d[(int64_t)pi[s] * inner + i] = pg[s];
      }
  }
}

// ------------------------------------------------------------------ multinomial
// in w [B, n] (non-negative finite weights, any scale); out int32 [B, S]. ip [seed, offset, replacement].
// Draws: element j of the call's flat draw space (b * S + s with replacement, b * n + i without) takes a float64
// uniform u in (0, 1] from Philox words j % 4 and (j + 1) % 4 of counter (j / 4, offset) under key seed (as
// rand_uniform in float64), so the samples depend on (seed, offset) only.
// With replacement: inverse CDF. The running sum of a row is computed in float64 in 256 chunks (native/cuda/topk.cu
// computes it the same way, one chunk per thread: the same additions in the same order, so the same bits):
// cdf[i] = base[chunk] + (sum of the chunk's weights up to i), base[] the running sum of the chunk sums. The
// sample is the first i with cdf[i] >= u * total and cdf[i] > 0 (a category of weight 0 is never drawn).
// Without replacement: the exponential race (Efraimidis & Spirakis 2006, as PyTorch): key_i = -log(u_i) / w_i
// (after every positive weight's for w_i = 0); the S smallest keys in increasing order are distributed as S draws one after another, each
// from the categories not yet drawn with probability proportional to their weight.
constexpr int64_t kChunks = 256;

static inline U32x4 draw(int64_t group, uint64_t seed, uint64_t offset) {
  return philox4x32_10((uint32_t)group, (uint32_t)((uint64_t)group >> 32), (uint32_t)offset,
                       (uint32_t)(offset >> 32), (uint32_t)seed, (uint32_t)(seed >> 32));
}
static inline double uniform_at(int64_t j, uint64_t seed, uint64_t off) {
  const U32x4 r = draw(j >> 2, seed, off);
  const int k = (int)(j & 3);
  return u32x2_to_unit_d(r.v[k], r.v[(k + 1) & 3]);
}

template <typename T>
static void multinomial(const OpCall& c) {
  const TensorArg& w = c.in[0];
  const int64_t B = w.shape[0], n = w.shape[1];
  const int64_t S = c.out[0].shape[1];
  const uint64_t seed = (uint64_t)c.ip[0], off = (uint64_t)c.ip[1];
  const bool repl = c.ip[2] != 0;
  const T* pw = (const T*)w.data;
  int32_t* po = (int32_t*)c.out[0].data;
  char msg[200];
  // 1. every weight finite and >= 0 (the first bad one in row-major order is reported)
  int64_t bad = -1;
  for (int64_t e = 0; e < B * n; ++e) {
    const T v = pw[e];
    if (!(v >= T(0)) || v == (T)INFINITY) { bad = e; break; }
  }
  if (bad >= 0) {
    snprintf(msg, sizeof msg, "expected non-negative finite weights, got %g at [%lld, %lld]", (double)pw[bad],
             (long long)(bad / n), (long long)(bad % n));
    fail(ERR_NATIVE, "multinomial", msg);
  }
  if (B == 0 || S == 0) return;
  // 2. per row: the chunked running sum (kept when sampling with replacement), its total and the non-zero count
  const int64_t cs = (n + kChunks - 1) / kChunks;
  double* cdf = repl ? (double*)workspace(3, sizeof(double) * (size_t)(B * n)) : nullptr;
  double* total = (double*)workspace(4, sizeof(double) * (size_t)B + sizeof(int64_t) * (size_t)B);
  int64_t* nz = (int64_t*)(total + B);
#pragma omp parallel for schedule(static) if (B > 1 && B * n >= (1 << 15))
  for (int64_t b = 0; b < B; ++b) {
    const T* row = pw + b * n;
    double base = 0;
    int64_t cnt = 0;
    for (int64_t c0 = 0; c0 < n; c0 += cs) {
      const int64_t c1 = c0 + cs < n ? c0 + cs : n;
      double run = 0;
      for (int64_t i = c0; i < c1; ++i) {
        run += (double)row[i];
        cnt += row[i] > T(0);
        if (cdf) cdf[b * n + i] = base + run;
      }
      base += run;
    }
    total[b] = base;
    nz[b] = cnt;
  }
  for (int64_t b = 0; b < B; ++b) {
    if (!(total[b] > 0) || total[b] == INFINITY) {
      snprintf(msg, sizeof msg, "expected every row to have a positive finite sum, got %g in row %lld", total[b],
               (long long)b);
      fail(ERR_NATIVE, "multinomial", msg);
    }
    if (!repl && nz[b] < S) {
      snprintf(msg, sizeof msg,
               "expected numSamples <= the number of non-zero weights without replacement, got %lld > %lld in row %lld",
               (long long)S, (long long)nz[b], (long long)b);
      fail(ERR_NATIVE, "multinomial", msg);
    }
  }
  // 3. the samples
  if (repl) {
#pragma omp parallel for schedule(static) if (B * S >= (1 << 12))
    for (int64_t j = 0; j < B * S; ++j) {
      const int64_t b = j / S;
      const double* cr = cdf + b * n;
      const double t = uniform_at(j, seed, off) * total[b];
      int64_t lo = 0, hi = n - 1;  // the first i with cdf >= t and cdf > 0 (cdf[n - 1] = total qualifies)
      while (lo < hi) {
        const int64_t mid = (lo + hi) >> 1;
        if (cr[mid] >= t && cr[mid] > 0) hi = mid; else lo = mid + 1;
      }
      po[j] = (int32_t)lo;
    }
    return;
  }
  const HeapPool pool = heap_pool(2, S);
#pragma omp parallel for schedule(dynamic, 1) if (B > 1 && B * n >= (1 << 12))
  for (int64_t b = 0; b < B; ++b) {
    const T* row = pw + b * n;
    Heap h = pool.get();
    for (int64_t i = 0; i < n; ++i) {
      const double wi = (double)row[i];
      // a weight of 0 ranks after every positive one, even one so small that its key overflowed to +inf
      offer(h, wi > 0 ? order_key(-log(uniform_at(b * n + i, seed, off)) / wi, false) : ~0ull, (int32_t)i);
    }
    finish(h);
    for (int64_t s = 0; s < S; ++s) po[b * S + s] = h.id[s];
  }
}
}  // namespace

void topk_f32(const OpCall& c) { topk<float>(c); }
void topk_f64(const OpCall& c) { topk<double>(c); }
void topk_bwd_f32(const OpCall& c) { topk_bwd<float>(c); }
void topk_bwd_f64(const OpCall& c) { topk_bwd<double>(c); }
void multinomial_f32(const OpCall& c) { multinomial<float>(c); }
void multinomial_f64(const OpCall& c) { multinomial<double>(c); }
TS_CPU_END

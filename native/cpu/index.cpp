// Gathers along one dim (index_select, embedding lookup) and its adjoint (scatter-add). lib/ presents x as a
// contiguous [outer, D, inner] view and indices as int32 [n]; indices are checked here (IndexError at the next read).
#include "kernels.h"

TS_CPU_BEGIN
namespace {

static void bad_index(int op, int64_t i, int64_t v, int64_t D) {
  char msg[160];
  snprintf(msg, sizeof msg, "expected indices in [0, %lld), got %lld at position %lld", (long long)D, (long long)v,
           (long long)i);
  fail(ERR_INDEX, op_name(op), msg);
}

// in x [outer, D, inner], idx [n]; out [outer, n, inner].
template <typename T>
static void gather(const OpCall& c) {
  const TensorArg& x = c.in[0];
  const int64_t outer = x.shape[0], D = x.shape[1], inner = x.shape[2];
  const int32_t* idx = (const int32_t*)c.in[1].data;
  const int64_t n = c.in[1].shape[0];
  for (int64_t i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= D) bad_index(c.op, i, idx[i], D);
  const T* px = (const T*)x.data;
  T* po = (T*)c.out[0].data;
#pragma omp parallel for collapse(2) schedule(static) if (outer * n * inner >= (1 << 15))
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n; ++i) memcpy(po + (o * n + i) * inner, px + (o * D + idx[i]) * inner, sizeof(T) * inner);
}

// in g [outer, n, inner], idx [n]; out dx [outer, D, inner] = sum of g rows into their index (duplicates add up).
// Deterministic and parallel whatever the shape (an embedding's backward is outer = 1, inner = the embedding
// width, n = the batch's tokens): a counting sort of the positions by index (stable, so each index's positions
// stay in increasing order), then threads over the destination rows (o, d), each summing its positions' g rows
// from zero in that order, or writing zeros when no index names it. Every element is the same sum in the same
// order on any thread count, and the same as native/cuda/index.cu's.
template <typename T>
static void scatter_add(const OpCall& c) {
  const TensorArg& g = c.in[0];
  const int64_t outer = g.shape[0], n = g.shape[1], inner = g.shape[2];
  const int32_t* idx = (const int32_t*)c.in[1].data;
  const int64_t D = c.out[0].shape[1];
  for (int64_t i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= D) bad_index(c.op, i, idx[i], D);
  const T* pg = (const T*)g.data;
  T* pd = (T*)c.out[0].data;
  if (outer * D * inner == 0) return;
  // seg[d] .. seg[d + 1]: the positions of index d in pos[], increasing
  int64_t* seg = (int64_t*)workspace(2, sizeof(int64_t) * (size_t)(D + 1) + sizeof(int64_t) * (size_t)n);
  int64_t* pos = seg + D + 1;
  for (int64_t d = 0; d <= D; ++d) seg[d] = 0;
  for (int64_t i = 0; i < n; ++i) ++seg[idx[i] + 1];
  for (int64_t d = 0; d < D; ++d) seg[d + 1] += seg[d];
  for (int64_t i = 0; i < n; ++i) pos[seg[idx[i]]++] = i;  // seg[d] ends at the start of d + 1 ...
  for (int64_t d = D; d > 0; --d) seg[d] = seg[d - 1];    // ... shifted back: seg[d] is d's start again
  seg[0] = 0;
  const int64_t rows = outer * D;
  const bool par = rows > 1 && outer * (n + D) * inner >= (1 << 15);
#pragma omp parallel for schedule(dynamic, 16) if (par)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r / D, d = r - o * D;
    T* dst = pd + r * inner;
    for (int64_t j = 0; j < inner; ++j) dst[j] = T(0);
    const T* go = pg + o * n * inner;
    for (int64_t p = seg[d], p1 = seg[d + 1]; p < p1; ++p) {
      const T* src = go + pos[p] * inner;
      for (int64_t j = 0; j < inner; ++j) dst[j] += src[j];
    }
  }
}
}  // namespace

void index_select_f32(const OpCall& c) { gather<float>(c); }
void index_select_f64(const OpCall& c) { gather<double>(c); }
void index_select_i32(const OpCall& c) { gather<int32_t>(c); }
void index_select_u8(const OpCall& c) { gather<uint8_t>(c); }
void index_select_bwd_f32(const OpCall& c) { scatter_add<float>(c); }
void index_select_bwd_f64(const OpCall& c) { scatter_add<double>(c); }
TS_CPU_END

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
// Parallel over outer and inner blocks only: rows with equal indices are summed by one thread, in order.
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
  const int64_t blk = 256, nblk = (inner + blk - 1) / blk;
#pragma omp parallel for collapse(2) schedule(static) if (outer * n * inner >= (1 << 15))
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t b = 0; b < nblk; ++b) {
      const int64_t j0 = b * blk, j1 = j0 + blk < inner ? j0 + blk : inner;
      for (int64_t d = 0; d < D; ++d)
        for (int64_t j = j0; j < j1; ++j) pd[(o * D + d) * inner + j] = T(0);
      for (int64_t i = 0; i < n; ++i) {
        T* dst = pd + (o * D + idx[i]) * inner;
        const T* src = pg + (o * n + i) * inner;
        for (int64_t j = j0; j < j1; ++j) dst[j] += src[j];
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

// A test double of libcublasLt.so.N (tests only, built with the emulated addon): tensile loads it before libcublas,
// as the real libcublas needs it, and runs matmul's fused epilogue (bias, ReLU, bias + ReLU) through its
// cublasLtMatmul. cuBLASLt's documented semantics implemented plainly over host memory (the emulator's device
// memory), in the order of the stream passed to cublasLtMatmul (stream_abi.h): D = alpha op(A) op(B) + beta C,
// column-major with each layout's rows, columns, leading dimension, batch count and strided batch offset, then the
// epilogue (bias[row] added, then ReLU). Attributes are checked as cuBLASLt checks them (INVALID_VALUE when the
// buffer's size is not the attribute's type's), layouts against the operation (rows and columns of op(A), op(B),
// C and D), and every call is logged (record.h).
//
// The heuristic (cublasLtMatmulAlgoGetHeuristic) returns one algorithm, id kAlgoId, needing kAlgoWorkspace bytes
// of workspace when the preference allows that much, else none. TENSILE_DOUBLE_LT_NO_ALGO=1 makes it return no
// algorithm (count 0, SUCCESS); TENSILE_DOUBLE_FAIL=cublasLtMatmulAlgoGetHeuristic / cublasLtMatmul make those
// return NOT_SUPPORTED.
// Build variants: -DTS_DOUBLE_MAJOR=12 reports 12.x; -DTS_DOUBLE_OMIT_LT_MATMUL leaves out cublasLtMatmul (a
// cuBLASLt without one of the symbols tensile needs: only the Lt path is then off).
//
// Enum values and attribute types: cublasLt.h (cuBLAS 11.x to 13.x agree on these), checked against NVIDIA's
// nvmath-python binding reference (cublasLtMatmulDescAttributes_t, cublasLtMatrixLayoutAttribute_t,
// cublasLtMatmulPreferenceAttributes_t, cublasLtEpilogue_t).
#include <cmath>
#include <cstdint>
#include "gemm_ref.h"
#include "record.h"

#ifndef TS_DOUBLE_MAJOR
#define TS_DOUBLE_MAJOR 13
#endif

using namespace tensile_double;

namespace {

enum { SUCCESS = 0, NOT_INITIALIZED = 1, INVALID_VALUE = 7, EXECUTION_FAILED = 13, NOT_SUPPORTED = 15 };
// cublasLtEpilogue_t
enum { EPI_DEFAULT = 1, EPI_RELU = 2, EPI_BIAS = 4, EPI_RELU_BIAS = 6 };
constexpr uint64_t kAlgoId = 21;
constexpr uint64_t kAlgoWorkspace = 1 << 20;

struct Ctx {
  int magic = 0x4c74;  // "Lt"
};
struct Desc {
  int32_t compute, scale;
  int32_t pointer_mode = 0, transa = 0, transb = 0, transc = 0;
  uint32_t epilogue = EPI_DEFAULT;
  const void* bias = nullptr;
  int64_t bias_stride = 0;
};
struct Layout {
  uint32_t type;
  int32_t order = 0;
  uint64_t rows, cols;
  int64_t ld;
  int32_t batch = 1;
  int64_t stride = 0;
};
struct Pref {
  uint32_t search = 0;
  uint64_t max_ws = 0;
  uint32_t align[4] = {256, 256, 256, 256};  // A, B, C, D
};
struct Algo {
  uint64_t data[8];
};
struct Heuristic {
  Algo algo;
  size_t workspaceSize;
  int state;
  float wavesCount;
  int reserved[4];
};
static_assert(sizeof(Algo) == 64 && sizeof(Heuristic) == 96, "cublasLt.h's layouts");

template <typename T>
int set(void* dst, const void* buf, size_t bytes) {
  if (!buf || bytes != sizeof(T)) return INVALID_VALUE;
  std::memcpy(dst, buf, sizeof(T));
  return SUCCESS;
}

// The operation's sizes from the layouts, checked as cuBLASLt checks them; SUCCESS or the status to return.
struct Problem {
  uint64_t m, n, k;
};
int check(const Desc* d, const Layout* a, const Layout* b, const Layout* c, const Layout* D, Problem* p) {
  if (!d || !a || !b || !c || !D) return INVALID_VALUE;
  if ((d->transa != 0 && d->transa != 1) || (d->transb != 0 && d->transb != 1) || d->transc != 0) return INVALID_VALUE;
  if (a->order || b->order || c->order || D->order) return NOT_SUPPORTED;
  const uint64_t m = D->rows, n = D->cols;
  const uint64_t am = d->transa ? a->cols : a->rows, k = d->transa ? a->rows : a->cols;
  const uint64_t bk = d->transb ? b->cols : b->rows, bn = d->transb ? b->rows : b->cols;
  if (am != m || bk != k || bn != n || c->rows != m || c->cols != n) return INVALID_VALUE;
  for (const Layout* l : {a, b, c, D})
    if (l->ld < (int64_t)(l->rows > 1 ? l->rows : 1) || l->batch < 1 || l->stride < 0) return INVALID_VALUE;
  if (a->batch != D->batch || b->batch != D->batch || c->batch != D->batch) return INVALID_VALUE;
  if (a->type != b->type || a->type != c->type || a->type != D->type) return NOT_SUPPORTED;
  const bool f32 = a->type == 0 && (d->compute == 68 || d->compute == 77) && d->scale == 0;
  const bool f64 = a->type == 1 && d->compute == 70 && d->scale == 1;
  if (!f32 && !f64) return NOT_SUPPORTED;
  if (d->pointer_mode != 0) return NOT_SUPPORTED;
  const uint32_t e = d->epilogue;
  if (e != EPI_DEFAULT && e != EPI_RELU && e != EPI_BIAS && e != EPI_RELU_BIAS) return NOT_SUPPORTED;
  if ((e & EPI_BIAS) && !d->bias) return INVALID_VALUE;
  *p = Problem{m, n, k};
  return SUCCESS;
}

// A summary of the operation for the log: "computeType=68 ... Drows=7 ..."
void log_problem(const char* name, const Desc* d, const Layout* const* L, const char* extra) {
  char buf[1024];
  int n = std::snprintf(buf, sizeof buf,
                        "%s computeType=%d scaleType=%d transa=%d transb=%d epilogue=%u bias_null=%d biasStride=%lld",
                        name, d->compute, d->scale, d->transa, d->transb, d->epilogue, d->bias ? 0 : 1,
                        (long long)d->bias_stride);
  const char* names = "ABCD";
  for (int i = 0; i < 4; ++i)
    n += std::snprintf(buf + n, sizeof buf - n, " %crows=%llu %ccols=%llu ld%c=%lld %cbatch=%d %cstride=%lld %ctype=%u",
                       names[i], (unsigned long long)L[i]->rows, names[i], (unsigned long long)L[i]->cols, names[i],
                       (long long)L[i]->ld, names[i], L[i]->batch, names[i], (long long)L[i]->stride, names[i],
                       L[i]->type);
  logf("%s%s", buf, extra);
}

#ifndef TS_DOUBLE_OMIT_LT_MATMUL
struct Job {
  Desc d;
  Layout L[4];
  Problem p;
  const void *A, *B, *C;
  void* D;
  double alpha, beta;
};

template <typename T>
void run(const Job& j) {
  const T* A = (const T*)j.A;
  const T* B = (const T*)j.B;
  const T* C = (const T*)j.C;
  T* D = (T*)j.D;
  const T* bias = (const T*)j.d.bias;
  const Layout &la = j.L[0], &lb = j.L[1], &lc = j.L[2], &ld = j.L[3];
  const bool round = j.d.compute == 77;
  for (int64_t b = 0; b < ld.batch; ++b)
    for (uint64_t col = 0; col < j.p.n; ++col)
      for (uint64_t row = 0; row < j.p.m; ++row) {
        // column-major with each layout's leading dimension and batch stride
        const double acc = tensile_double::dot(A + b * la.stride, j.d.transa != 0, (int64_t)la.ld, B + b * lb.stride, j.d.transb != 0,
                                               (int64_t)lb.ld, (int64_t)row, (int64_t)col, (int64_t)j.p.k, round);
        double x = j.alpha * acc;
        if (j.beta != 0) x += j.beta * (double)C[b * lc.stride + row + col * lc.ld];
        if (j.d.epilogue & EPI_BIAS) x += (double)bias[b * j.d.bias_stride + row];
        if (j.d.epilogue & EPI_RELU) x = x > 0 ? x : 0;
        D[b * ld.stride + row + col * ld.ld] = (T)x;
      }
}
void job(void* p) {
  Job* j = (Job*)p;
  if (j->L[3].type == 1)
    run<double>(*j);
  else
    run<float>(*j);
  delete j;
}
#endif

}  // namespace

TS_EXPORT size_t cublasLtGetVersion() { return (size_t)TS_DOUBLE_MAJOR * 10000 + 100; }
TS_EXPORT const char* cublasLtGetStatusString(int s) {
  switch (s) {
    case SUCCESS: return "the operation completed successfully";
    case NOT_INITIALIZED: return "the library was not initialized";
    case INVALID_VALUE: return "an unsupported value or parameter was passed to the function";
    case NOT_SUPPORTED: return "the functionality requested is not supported";
    default: return "an internal operation failed";
  }
}

TS_EXPORT int cublasLtCreate(void** handle) {
  logf("cublasLtCreate");
  if (!handle) return INVALID_VALUE;
  *handle = new Ctx;
  return SUCCESS;
}
TS_EXPORT int cublasLtDestroy(void* handle) {
  delete (Ctx*)handle;
  return SUCCESS;
}

TS_EXPORT int cublasLtMatmulDescCreate(void** desc, int computeType, int scaleType) {
  logf("cublasLtMatmulDescCreate computeType=%d scaleType=%d", computeType, scaleType);
  if (!desc) return INVALID_VALUE;
  Desc* d = new Desc;
  d->compute = computeType;
  d->scale = scaleType;
  *desc = d;
  return SUCCESS;
}
TS_EXPORT int cublasLtMatmulDescDestroy(void* desc) {
  delete (Desc*)desc;
  return SUCCESS;
}
// cublasLtMatmulDescAttributes_t: COMPUTE_TYPE 0, SCALE_TYPE 1, POINTER_MODE 2, TRANSA 3, TRANSB 4, TRANSC 5 (int32_t);
// EPILOGUE 7 (uint32_t); BIAS_POINTER 8 (const void*); BIAS_BATCH_STRIDE 10 (int64_t)
TS_EXPORT int cublasLtMatmulDescSetAttribute(void* desc, int attr, const void* buf, size_t bytes) {
  logf("cublasLtMatmulDescSetAttribute attr=%d bytes=%zu", attr, bytes);
  Desc* d = (Desc*)desc;
  if (!d) return INVALID_VALUE;
  switch (attr) {
    case 0: return set<int32_t>(&d->compute, buf, bytes);
    case 1: return set<int32_t>(&d->scale, buf, bytes);
    case 2: return set<int32_t>(&d->pointer_mode, buf, bytes);
    case 3: return set<int32_t>(&d->transa, buf, bytes);
    case 4: return set<int32_t>(&d->transb, buf, bytes);
    case 5: return set<int32_t>(&d->transc, buf, bytes);
    case 7: return set<uint32_t>(&d->epilogue, buf, bytes);
    case 8: return set<const void*>(&d->bias, buf, bytes);
    case 10: return set<int64_t>(&d->bias_stride, buf, bytes);
    default: return INVALID_VALUE;
  }
}

TS_EXPORT int cublasLtMatrixLayoutCreate(void** layout, int type, uint64_t rows, uint64_t cols, int64_t ld) {
  logf("cublasLtMatrixLayoutCreate type=%d rows=%llu cols=%llu ld=%lld", type, (unsigned long long)rows,
       (unsigned long long)cols, (long long)ld);
  if (!layout) return INVALID_VALUE;
  Layout* l = new Layout;
  l->type = (uint32_t)type;
  l->rows = rows;
  l->cols = cols;
  l->ld = ld;
  *layout = l;
  return SUCCESS;
}
TS_EXPORT int cublasLtMatrixLayoutDestroy(void* layout) {
  delete (Layout*)layout;
  return SUCCESS;
}
// cublasLtMatrixLayoutAttribute_t: TYPE 0 (uint32_t), ORDER 1 (int32_t), ROWS 2, COLS 3 (uint64_t), LD 4 (int64_t),
// BATCH_COUNT 5 (int32_t), STRIDED_BATCH_OFFSET 6 (int64_t)
TS_EXPORT int cublasLtMatrixLayoutSetAttribute(void* layout, int attr, const void* buf, size_t bytes) {
  Layout* l = (Layout*)layout;
  if (!l) return INVALID_VALUE;
  int st;
  switch (attr) {
    case 0: st = set<uint32_t>(&l->type, buf, bytes); break;
    case 1: st = set<int32_t>(&l->order, buf, bytes); break;
    case 2: st = set<uint64_t>(&l->rows, buf, bytes); break;
    case 3: st = set<uint64_t>(&l->cols, buf, bytes); break;
    case 4: st = set<int64_t>(&l->ld, buf, bytes); break;
    case 5: st = set<int32_t>(&l->batch, buf, bytes); break;
    case 6: st = set<int64_t>(&l->stride, buf, bytes); break;
    default: st = INVALID_VALUE;
  }
  logf("cublasLtMatrixLayoutSetAttribute attr=%d bytes=%zu -> %d", attr, bytes, st);
  return st;
}

TS_EXPORT int cublasLtMatmulPreferenceCreate(void** pref) {
  if (!pref) return INVALID_VALUE;
  *pref = new Pref;
  return SUCCESS;
}
TS_EXPORT int cublasLtMatmulPreferenceDestroy(void* pref) {
  delete (Pref*)pref;
  return SUCCESS;
}
// cublasLtMatmulPreferenceAttributes_t: SEARCH_MODE 0 (uint32_t), MAX_WORKSPACE_BYTES 1 (uint64_t),
// MIN_ALIGNMENT_A/B/C/D_BYTES 5..8 (uint32_t)
TS_EXPORT int cublasLtMatmulPreferenceSetAttribute(void* pref, int attr, const void* buf, size_t bytes) {
  Pref* p = (Pref*)pref;
  if (!p) return INVALID_VALUE;
  int st;
  if (attr == 0)
    st = set<uint32_t>(&p->search, buf, bytes);
  else if (attr == 1)
    st = set<uint64_t>(&p->max_ws, buf, bytes);
  else if (attr >= 5 && attr <= 8)
    st = set<uint32_t>(&p->align[attr - 5], buf, bytes);
  else
    st = INVALID_VALUE;
  logf("cublasLtMatmulPreferenceSetAttribute attr=%d bytes=%zu -> %d", attr, bytes, st);
  return st;
}

TS_EXPORT int cublasLtMatmulAlgoGetHeuristic(void* handle, void* desc, void* a, void* b, void* c, void* d, void* pref,
                                             int requested, Heuristic* results, int* returned) {
  if (!handle) return NOT_INITIALIZED;
  if (!pref || requested <= 0 || !results || !returned) return INVALID_VALUE;
  const Pref* p = (const Pref*)pref;
  const Layout* L[4] = {(Layout*)a, (Layout*)b, (Layout*)c, (Layout*)d};
  if (!desc || !a || !b || !c || !d) return INVALID_VALUE;
  char extra[256];
  std::snprintf(extra, sizeof extra, " requested=%d maxWorkspace=%llu alignA=%u alignB=%u alignC=%u alignD=%u",
                requested, (unsigned long long)p->max_ws, p->align[0], p->align[1], p->align[2], p->align[3]);
  log_problem("cublasLtMatmulAlgoGetHeuristic", (const Desc*)desc, L, extra);
  if (fails("cublasLtMatmulAlgoGetHeuristic")) {
    logf("cublasLtMatmulAlgoGetHeuristic -> NOT_SUPPORTED");
    return NOT_SUPPORTED;
  }
  Problem pr;
  const int st = check((const Desc*)desc, L[0], L[1], L[2], L[3], &pr);
  if (st != SUCCESS) {
    logf("cublasLtMatmulAlgoGetHeuristic -> %d", st);
    return st;
  }
  *returned = 0;
  if (env_on("TENSILE_DOUBLE_LT_NO_ALGO")) {
    logf("cublasLtMatmulAlgoGetHeuristic -> no algorithm");
    return SUCCESS;
  }
  std::memset(&results[0], 0, sizeof(Heuristic));
  const uint64_t ws = p->max_ws >= kAlgoWorkspace ? kAlgoWorkspace : 0;
  results[0].algo.data[0] = kAlgoId;
  results[0].algo.data[1] = ws;
  results[0].workspaceSize = ws;
  results[0].state = SUCCESS;
  results[0].wavesCount = 1.f;
  *returned = 1;
  return SUCCESS;
}

#ifndef TS_DOUBLE_OMIT_LT_MATMUL
TS_EXPORT int cublasLtMatmul(void* handle, void* desc, const void* alpha, const void* A, void* Adesc, const void* B,
                             void* Bdesc, const void* beta, const void* C, void* Cdesc, void* D, void* Ddesc,
                             const Algo* algo, void* workspace, size_t workspaceBytes, void* stream) {
  if (!handle) return NOT_INITIALIZED;
  if (!desc || !Adesc || !Bdesc || !Cdesc || !Ddesc) return INVALID_VALUE;
  const Desc* d = (const Desc*)desc;
  const Layout* L[4] = {(Layout*)Adesc, (Layout*)Bdesc, (Layout*)Cdesc, (Layout*)Ddesc};
  char extra[256];
  std::snprintf(extra, sizeof extra, " algo=%lld workspace=%zu ws_null=%d in_place=%d",
                algo ? (long long)algo->data[0] : -1LL, workspaceBytes, workspace ? 0 : 1, C == D ? 1 : 0);
  log_problem("cublasLtMatmul", d, L, extra);
  if (fails("cublasLtMatmul")) {
    logf("cublasLtMatmul -> NOT_SUPPORTED");
    return NOT_SUPPORTED;
  }
  Problem pr;
  const int st = check(d, L[0], L[1], L[2], L[3], &pr);
  if (st != SUCCESS) {
    logf("cublasLtMatmul -> %d", st);
    return st;
  }
  // the algorithm the heuristic gave (or none: cuBLASLt then picks one itself), with the workspace it needs
  if (algo && (algo->data[0] != kAlgoId || workspaceBytes < algo->data[1])) return INVALID_VALUE;
  if (workspaceBytes && !workspace) return INVALID_VALUE;
  if (!alpha || !beta || !A || !B || !D) return INVALID_VALUE;
  const bool f64 = L[3]->type == 1;
  Job* j = new Job{*d, {*L[0], *L[1], *L[2], *L[3]}, pr, A, B, C, D,
                   f64 ? *(const double*)alpha : *(const float*)alpha, f64 ? *(const double*)beta : *(const float*)beta};
  if (j->beta != 0 && !C) {
    delete j;
    return INVALID_VALUE;
  }
  if (!in_order(stream, job, j)) {
    logf("cublasLtMatmul refused: not an emulated stream");
    delete j;
    return EXECUTION_FAILED;
  }
  return SUCCESS;
}
#endif

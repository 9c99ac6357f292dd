// A test double of cuDNN 9's libcudnn.so.9 (tests only, built with the emulated addon): the legacy-API entry points
// tensile loads, with cuDNN's documented semantics implemented plainly over host memory (the emulator's device
// memory), run in the order of the stream set by cudnnSetStream (stream_abi.h). Every call is logged (record.h).
//
// - Versions: cudnnGetVersion() 91300 (9.13.0); cudnnGetCudartVersion() 13000 (-DTS_DOUBLE_CUDART=12090: a cuDNN
//   built for CUDA 12). cudnnCreate fails (CUDNN_STATUS_INTERNAL_ERROR) unless libcudnn_graph/_ops/_cnn.so.9 are
//   loaded in the process, as the real shim would abort.
// - Descriptors: 4-d NCHW tensors, filters (cudnnSetFilter4dDescriptor(desc, dataType, format, k, c, h, w)),
//   2-d convolutions (padding, stride, dilation, mode, compute type, math type, groups). Values that
//   cuDNN rejects give BAD_PARAM (2000); formats other than NCHW and data types other than FLOAT/DOUBLE, or a
//   filter whose data type differs from the tensors', NOT_SUPPORTED (3000) / BAD_PARAM at the call.
// - Algorithms (cudnnGet*Algorithm_v7, and cudnnFind* in another order, as timing would give), each entry
//   {algo, status, time, memory, determinism, mathType = the descriptor's}:
//     forward         Get: 1 (IMPLICIT_PRECOMP_GEMM, 1024 + 8*C/g*kh*kw bytes), 0 (IMPLICIT_GEMM, 0 bytes),
//                          6 (WINOGRAD, status NOT_SUPPORTED)        Find: 0, 1
//     backward data   Get: 0 (non-deterministic, 0 bytes), 1 (deterministic, 2048 bytes)     Find: 1, 0
//     backward filter Get: 0 (non-deterministic, 0), 1 (deterministic, 4096), 3 (non-deterministic, 0)
//                                                                              Find: 3, 1, 0
//   With TENSILE_DOUBLE_HUGE_WS=1 the first algorithm of each Get list (forward 1, backward data 0, backward
//   filter 0) needs 2^48 bytes of workspace (in the lists and cudnnGet*WorkspaceSize). A run with less workspace
//   than its algorithm needs is BAD_PARAM.
// - Computation: cross-correlation (or convolution, mode 0) with padding, stride, dilation and groups, in the three
//   directions; y = alpha * result + beta * y, accumulated in double.
#include <dlfcn.h>
#include <cmath>
#include <cstdint>
#include <vector>
#include "record.h"

#ifndef TS_DOUBLE_CUDART
#define TS_DOUBLE_CUDART 13000
#endif

using namespace tensile_double;

namespace {

enum {
  SUCCESS = 0,
  NOT_INITIALIZED = 1001,
  BAD_PARAM = 2000,
  NOT_SUPPORTED = 3000,
  INTERNAL_ERROR = 4000,
  EXECUTION_FAILED = 5000
};

struct Handle {
  void* stream = nullptr;
};
struct Tensor {
  int dtype = -1, n = 0, c = 0, h = 0, w = 0;
};
struct Filter {
  int dtype = -1, format = -1, k = 0, c = 0, h = 0, w = 0;
};
struct Conv {
  int ph = 0, pw = 0, sh = 1, sw = 1, dh = 1, dw = 1, mode = 1, compute = 0, math = 0, groups = 1;
};
struct Perf {
  int algo;
  int status;
  float time;
  size_t memory;
  int determinism;
  int math;
  int reserved[3];
};

bool huge() { return env_on("TENSILE_DOUBLE_HUGE_WS"); }

// the algorithm table: (algo, deterministic, workspace) per direction; status NOT_SUPPORTED for algo 6 forward
struct Algo {
  int algo, det;
  size_t ws;
  int status;
};
std::vector<Algo> algos(int dir, const Filter& f, const Conv& cv, bool find) {
  const size_t big = size_t(1) << 48;
  std::vector<Algo> a;
  if (dir == 0) {
    Algo precomp{1, 1, huge() ? big : 1024 + 8 * (size_t)f.c * f.h * f.w, 0}, implicit{0, 1, 0, 0};
    if (find) a = {implicit, precomp};
    else a = {precomp, implicit, Algo{6, 1, 0, NOT_SUPPORTED}};
  } else if (dir == 1) {
    Algo a0{0, 0, huge() ? big : 0, 0}, a1{1, 1, 2048, 0};
    if (find) a = {a1, a0};
    else a = {a0, a1};
  } else {
    Algo a0{0, 0, huge() ? big : 0, 0}, a1{1, 1, 4096, 0}, a3{3, 0, 0, 0};
    if (find) a = {a3, a1, a0};
    else a = {a0, a1, a3};
  }
  (void)cv;
  return a;
}
// the entry of `algo` (status SUCCESS) in the Get list: false when there is none
bool find_algo(int dir, const Filter& f, const Conv& cv, int algo, Algo* out) {
  for (const Algo& x : algos(dir, f, cv, false))
    if (x.algo == algo && x.status == 0) return *out = x, true;
  return false;
}

const char* dir_name(int d) { return d == 0 ? "Forward" : d == 1 ? "BackwardData" : "BackwardFilter"; }

bool valid_tensor(const Tensor& t) { return (t.dtype == 0 || t.dtype == 1) && t.n > 0 && t.c > 0 && t.h > 0 && t.w > 0; }

// x, w, y consistent for a convolution (shapes, groups, types)
int check_conv(const Tensor& x, const Filter& f, const Conv& cv, const Tensor& y) {
  if (!valid_tensor(x) || !valid_tensor(y) || f.k <= 0) return BAD_PARAM;
  if (f.format != 0) return NOT_SUPPORTED;
  if (f.dtype != x.dtype || y.dtype != x.dtype) return BAD_PARAM;
  if (cv.groups < 1 || x.c != f.c * cv.groups || f.k % cv.groups != 0 || y.c != f.k || y.n != x.n) return BAD_PARAM;
  const int oh = (x.h + 2 * cv.ph - cv.dh * (f.h - 1) - 1) / cv.sh + 1;
  const int ow = (x.w + 2 * cv.pw - cv.dw * (f.w - 1) - 1) / cv.sw + 1;
  if (y.h != oh || y.w != ow) return BAD_PARAM;
  return SUCCESS;
}

struct ConvJob {
  int dir;
  Tensor x, y;
  Filter f;
  Conv cv;
  const void* a;  // fwd: x, bwd data: w, bwd filter: x
  const void* b;  // fwd: w, bwd data: dy, bwd filter: dy
  void* out;
  double alpha, beta;
};

template <typename T>
void conv_run(const ConvJob& j) {
  const Tensor &X = j.x, &Y = j.y;
  const Filter& F = j.f;
  const Conv& cv = j.cv;
  const int Cg = F.c, Kg = F.k / cv.groups;
  const size_t nx = (size_t)X.n * X.c * X.h * X.w, nw = (size_t)F.k * F.c * F.h * F.w,
               ny = (size_t)Y.n * Y.c * Y.h * Y.w;
  const size_t nout = j.dir == 0 ? ny : j.dir == 1 ? nx : nw;
  std::vector<double> acc(nout, 0.0);
  const T* x = (const T*)(j.dir == 1 ? nullptr : j.a);
  const T* w = (const T*)(j.dir == 0 ? j.b : j.dir == 1 ? j.a : nullptr);
  const T* yin = (const T*)(j.dir == 0 ? nullptr : j.b);
  for (int n = 0; n < Y.n; ++n)
    for (int k = 0; k < F.k; ++k) {
      const int g = k / Kg;
      for (int oh = 0; oh < Y.h; ++oh)
        for (int ow = 0; ow < Y.w; ++ow) {
          const size_t yi = (((size_t)n * Y.c + k) * Y.h + oh) * Y.w + ow;
          for (int c = 0; c < Cg; ++c)
            for (int i = 0; i < F.h; ++i)
              for (int jj = 0; jj < F.w; ++jj) {
                const int fi = cv.mode == 0 ? F.h - 1 - i : i, fj = cv.mode == 0 ? F.w - 1 - jj : jj;
                const int ih = oh * cv.sh - cv.ph + i * cv.dh, iw = ow * cv.sw - cv.pw + jj * cv.dw;
                if (ih < 0 || ih >= X.h || iw < 0 || iw >= X.w) continue;
                const size_t xi = (((size_t)n * X.c + g * Cg + c) * X.h + ih) * X.w + iw;
                const size_t wi = (((size_t)k * F.c + c) * F.h + fi) * F.w + fj;
                if (j.dir == 0) acc[yi] += (double)x[xi] * (double)w[wi];
                else if (j.dir == 1) acc[xi] += (double)yin[yi] * (double)w[wi];
                else acc[wi] += (double)yin[yi] * (double)x[xi];
              }
        }
    }
  T* out = (T*)j.out;
  for (size_t i = 0; i < nout; ++i) out[i] = (T)(j.alpha * acc[i] + (j.beta != 0 ? j.beta * (double)out[i] : 0.0));
}
void conv_job(void* p) {
  ConvJob* j = (ConvJob*)p;
  if (j->x.dtype == 1) conv_run<double>(*j);
  else conv_run<float>(*j);
  delete j;
}

double scale(const void* p, int dtype) { return dtype == 1 ? *(const double*)p : (double)*(const float*)p; }

int get_algos(const char* name, int dir, bool find, void* handle, void* xd, void* fd, void* cd, void* yd,
              int requested, int* returned, Perf* perf) {
  const Tensor& x = *(Tensor*)xd;
  const Filter& f = *(Filter*)fd;
  const Conv& cv = *(Conv*)cd;
  const Tensor& y = *(Tensor*)yd;
  logf("%s x=%d,%d,%d,%d w=%d,%d,%d,%d y=%d,%d,%d,%d math=%d", name, x.n, x.c, x.h, x.w, f.k, f.c, f.h, f.w, y.n, y.c,
       y.h, y.w, cv.math);
  if (!handle || !returned || !perf || requested < 1) return BAD_PARAM;
  if (fails(name)) {
    logf("%s -> NOT_SUPPORTED", name);
    return NOT_SUPPORTED;
  }
  const int st = check_conv(x, f, cv, y);
  if (st) return st;
  const std::vector<Algo> a = algos(dir, f, cv, find);
  int n = 0;
  for (const Algo& e : a) {
    if (n >= requested) break;
    Perf& p = perf[n++];
    std::memset(&p, 0, sizeof p);
    p.algo = e.algo;
    p.status = e.status;
    p.time = 0.5f * n;
    p.memory = e.ws;
    p.determinism = e.det;
    p.math = cv.math;
  }
  *returned = n;
  return SUCCESS;
}

int ws_size(const char* name, int dir, void* xd, void* fd, void* cd, void* yd, int algo, size_t* bytes) {
  const Filter& f = *(Filter*)fd;
  const Conv& cv = *(Conv*)cd;
  logf("%s algo=%d", name, algo);
  const int st = check_conv(*(Tensor*)xd, f, cv, *(Tensor*)yd);
  if (st) return st;
  Algo a;
  if (!find_algo(dir, f, cv, algo, &a) || !bytes) return BAD_PARAM;
  *bytes = a.ws;
  return SUCCESS;
}

int run_conv(const char* name, int dir, void* handle, const void* alpha, void* xd, void* fd, void* cd, void* yd,
             const void* a, const void* b, int algo, void* ws, size_t ws_bytes, const void* beta, void* out) {
  Handle* h = (Handle*)handle;
  const Tensor& x = *(Tensor*)xd;
  const Filter& f = *(Filter*)fd;
  const Conv& cv = *(Conv*)cd;
  const Tensor& y = *(Tensor*)yd;
  logf("%s algo=%d workspace=%zu ws_null=%d alpha=%g beta=%g", name, algo, ws_bytes, ws ? 0 : 1,
       alpha ? scale(alpha, x.dtype) : 0.0, beta ? scale(beta, x.dtype) : 0.0);
  if (!h) return BAD_PARAM;
  if (fails(name)) {
    logf("%s -> NOT_SUPPORTED", name);
    return NOT_SUPPORTED;
  }
  int st = check_conv(x, f, cv, y);
  if (st) return st;
  Algo al;
  if (!find_algo(dir, f, cv, algo, &al)) return BAD_PARAM;
  if (ws_bytes < al.ws || (al.ws && !ws)) return BAD_PARAM;
  if (!alpha || !beta || !a || !b || !out) return BAD_PARAM;
  ConvJob* j = new ConvJob{dir, x, y, f, cv, a, b, out, scale(alpha, x.dtype), scale(beta, x.dtype)};
  if (!in_order(h->stream, conv_job, j)) {
    logf("%s refused: not an emulated stream", name);
    delete j;
    return EXECUTION_FAILED;
  }
  return SUCCESS;
}

}  // namespace

TS_EXPORT size_t cudnnGetVersion() { return 91300; }
TS_EXPORT size_t cudnnGetCudartVersion() { return TS_DOUBLE_CUDART; }
TS_EXPORT const char* cudnnGetErrorString(int s) {
  switch (s) {
    case SUCCESS: return "CUDNN_STATUS_SUCCESS";
    case NOT_INITIALIZED: return "CUDNN_STATUS_NOT_INITIALIZED";
    case BAD_PARAM: return "CUDNN_STATUS_BAD_PARAM";
    case NOT_SUPPORTED: return "CUDNN_STATUS_NOT_SUPPORTED";
    case EXECUTION_FAILED: return "CUDNN_STATUS_EXECUTION_FAILED";
    default: return "CUDNN_STATUS_INTERNAL_ERROR";
  }
}
TS_EXPORT int cudnnCreate(void** handle) {
  for (const char* sub : {"libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9"}) {
    void* h = dlopen(sub, RTLD_NOLOAD | RTLD_LAZY);
    if (!h) {
      logf("cudnnCreate -> INTERNAL_ERROR (%s is not loaded)", sub);
      return INTERNAL_ERROR;
    }
    dlclose(h);
  }
  logf("cudnnCreate");
  if (!handle) return BAD_PARAM;
  *handle = new Handle;
  return SUCCESS;
}
TS_EXPORT int cudnnDestroy(void* handle) {
  delete (Handle*)handle;
  return SUCCESS;
}
TS_EXPORT int cudnnSetStream(void* handle, void* stream) {
  if (!handle) return BAD_PARAM;
  ((Handle*)handle)->stream = stream;
  return SUCCESS;
}

TS_EXPORT int cudnnCreateTensorDescriptor(void** d) { return d ? (*d = new Tensor, SUCCESS) : BAD_PARAM; }
TS_EXPORT int cudnnDestroyTensorDescriptor(void* d) { return delete (Tensor*)d, SUCCESS; }
TS_EXPORT int cudnnSetTensor4dDescriptor(void* d, int format, int dtype, int n, int c, int h, int w) {
  logf("cudnnSetTensor4dDescriptor format=%d dataType=%d n=%d c=%d h=%d w=%d", format, dtype, n, c, h, w);
  if (!d || n <= 0 || c <= 0 || h <= 0 || w <= 0) return BAD_PARAM;
  if (format != 0 || (dtype != 0 && dtype != 1)) return NOT_SUPPORTED;
  *(Tensor*)d = Tensor{dtype, n, c, h, w};
  return SUCCESS;
}
TS_EXPORT int cudnnCreateFilterDescriptor(void** d) { return d ? (*d = new Filter, SUCCESS) : BAD_PARAM; }
TS_EXPORT int cudnnDestroyFilterDescriptor(void* d) { return delete (Filter*)d, SUCCESS; }
TS_EXPORT int cudnnSetFilter4dDescriptor(void* d, int dtype, int format, int k, int c, int h, int w) {
  logf("cudnnSetFilter4dDescriptor dataType=%d format=%d k=%d c=%d h=%d w=%d", dtype, format, k, c, h, w);
  if (!d || k <= 0 || c <= 0 || h <= 0 || w <= 0 || format < 0 || format > 2 || dtype < 0 || dtype > 14)
    return BAD_PARAM;
  *(Filter*)d = Filter{dtype, format, k, c, h, w};
  return SUCCESS;
}
TS_EXPORT int cudnnCreateConvolutionDescriptor(void** d) { return d ? (*d = new Conv, SUCCESS) : BAD_PARAM; }
TS_EXPORT int cudnnDestroyConvolutionDescriptor(void* d) { return delete (Conv*)d, SUCCESS; }
TS_EXPORT int cudnnSetConvolution2dDescriptor(void* d, int ph, int pw, int u, int v, int dh, int dw, int mode,
                                              int compute) {
  logf("cudnnSetConvolution2dDescriptor pad=%d,%d stride=%d,%d dilation=%d,%d mode=%d computeType=%d", ph, pw, u, v,
       dh, dw, mode, compute);
  if (!d || ph < 0 || pw < 0 || u <= 0 || v <= 0 || dh <= 0 || dw <= 0 || (mode != 0 && mode != 1)) return BAD_PARAM;
  Conv* c = (Conv*)d;
  c->ph = ph, c->pw = pw, c->sh = u, c->sw = v, c->dh = dh, c->dw = dw, c->mode = mode, c->compute = compute;
  return SUCCESS;
}
TS_EXPORT int cudnnSetConvolutionMathType(void* d, int math) {
  logf("cudnnSetConvolutionMathType math=%d", math);
  if (!d || math < 0 || math > 3) return BAD_PARAM;
  ((Conv*)d)->math = math;
  return SUCCESS;
}
TS_EXPORT int cudnnSetConvolutionGroupCount(void* d, int groups) {
  logf("cudnnSetConvolutionGroupCount groups=%d", groups);
  if (!d || groups < 1) return BAD_PARAM;
  ((Conv*)d)->groups = groups;
  return SUCCESS;
}
TS_EXPORT int cudnnGetConvolution2dForwardOutputDim(void* cd, void* xd, void* fd, int* n, int* c, int* h, int* w) {
  const Conv& cv = *(Conv*)cd;
  const Tensor& x = *(Tensor*)xd;
  const Filter& f = *(Filter*)fd;
  *n = x.n;
  *c = f.k;
  *h = (x.h + 2 * cv.ph - cv.dh * (f.h - 1) - 1) / cv.sh + 1;
  *w = (x.w + 2 * cv.pw - cv.dw * (f.w - 1) - 1) / cv.sw + 1;
  return SUCCESS;
}

// forward: (handle, xDesc, wDesc, convDesc, yDesc, ...)
TS_EXPORT int cudnnGetConvolutionForwardAlgorithm_v7(void* h, void* x, void* w, void* cv, void* y, int req, int* ret,
                                                     Perf* perf) {
  return get_algos("cudnnGetConvolutionForwardAlgorithm_v7", 0, false, h, x, w, cv, y, req, ret, perf);
}
TS_EXPORT int cudnnFindConvolutionForwardAlgorithm(void* h, void* x, void* w, void* cv, void* y, int req, int* ret,
                                                   Perf* perf) {
  return get_algos("cudnnFindConvolutionForwardAlgorithm", 0, true, h, x, w, cv, y, req, ret, perf);
}
TS_EXPORT int cudnnGetConvolutionForwardWorkspaceSize(void*, void* x, void* w, void* cv, void* y, int algo,
                                                      size_t* bytes) {
  return ws_size("cudnnGetConvolutionForwardWorkspaceSize", 0, x, w, cv, y, algo, bytes);
}
TS_EXPORT int cudnnConvolutionForward(void* h, const void* alpha, void* xd, const void* x, void* wd, const void* w,
                                      void* cv, int algo, void* ws, size_t wsb, const void* beta, void* yd, void* y) {
  return run_conv("cudnnConvolutionForward", 0, h, alpha, xd, wd, cv, yd, x, w, algo, ws, wsb, beta, y);
}
// backward data: (handle, wDesc, dyDesc, convDesc, dxDesc, ...)
TS_EXPORT int cudnnGetConvolutionBackwardDataAlgorithm_v7(void* h, void* w, void* dy, void* cv, void* dx, int req,
                                                          int* ret, Perf* perf) {
  return get_algos("cudnnGetConvolutionBackwardDataAlgorithm_v7", 1, false, h, dx, w, cv, dy, req, ret, perf);
}
TS_EXPORT int cudnnFindConvolutionBackwardDataAlgorithm(void* h, void* w, void* dy, void* cv, void* dx, int req,
                                                        int* ret, Perf* perf) {
  return get_algos("cudnnFindConvolutionBackwardDataAlgorithm", 1, true, h, dx, w, cv, dy, req, ret, perf);
}
TS_EXPORT int cudnnGetConvolutionBackwardDataWorkspaceSize(void*, void* w, void* dy, void* cv, void* dx, int algo,
                                                           size_t* bytes) {
  return ws_size("cudnnGetConvolutionBackwardDataWorkspaceSize", 1, dx, w, cv, dy, algo, bytes);
}
TS_EXPORT int cudnnConvolutionBackwardData(void* h, const void* alpha, void* wd, const void* w, void* dyd,
                                           const void* dy, void* cv, int algo, void* ws, size_t wsb, const void* beta,
                                           void* dxd, void* dx) {
  return run_conv("cudnnConvolutionBackwardData", 1, h, alpha, dxd, wd, cv, dyd, w, dy, algo, ws, wsb, beta, dx);
}
// backward filter: (handle, xDesc, dyDesc, convDesc, dwDesc, ...)
TS_EXPORT int cudnnGetConvolutionBackwardFilterAlgorithm_v7(void* h, void* x, void* dy, void* cv, void* dw, int req,
                                                            int* ret, Perf* perf) {
  return get_algos("cudnnGetConvolutionBackwardFilterAlgorithm_v7", 2, false, h, x, dw, cv, dy, req, ret, perf);
}
TS_EXPORT int cudnnFindConvolutionBackwardFilterAlgorithm(void* h, void* x, void* dy, void* cv, void* dw, int req,
                                                          int* ret, Perf* perf) {
  return get_algos("cudnnFindConvolutionBackwardFilterAlgorithm", 2, true, h, x, dw, cv, dy, req, ret, perf);
}
TS_EXPORT int cudnnGetConvolutionBackwardFilterWorkspaceSize(void*, void* x, void* dy, void* cv, void* dw, int algo,
                                                             size_t* bytes) {
  return ws_size("cudnnGetConvolutionBackwardFilterWorkspaceSize", 2, x, dw, cv, dy, algo, bytes);
}
TS_EXPORT int cudnnConvolutionBackwardFilter(void* h, const void* alpha, void* xd, const void* x, void* dyd,
                                             const void* dy, void* cv, int algo, void* ws, size_t wsb,
                                             const void* beta, void* dwd, void* dw) {
  return run_conv("cudnnConvolutionBackwardFilter", 2, h, alpha, xd, dwd, cv, dyd, x, dy, algo, ws, wsb, beta, dw);
}

// The reference arithmetic the cuBLAS and cuBLASLt doubles share: TF32 rounding and one element of a column-major
// GEMM, op(A)(row, :) . op(B)(:, col), summed in double.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tensile_double {

// TF32: 8-bit exponent, 10-bit mantissa (round to nearest even on the 13 dropped bits)
inline float tf32(float x) {
  if (!std::isfinite(x)) return x;
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0xfffu + ((u >> 13) & 1u);
  u &= ~0x1fffu;
  std::memcpy(&x, &u, 4);
  return x;
}

// sum over p < k of op(A)(row, p) * op(B)(p, col); A and B already offset to their batch, leading dimensions lda
// and ldb, transposed when ta / tb; inputs rounded to TF32 when `round`
template <typename T>
double dot(const T* A, bool ta, int64_t lda, const T* B, bool tb, int64_t ldb, int64_t row, int64_t col, int64_t k, bool round) {
  double acc = 0;
  for (int64_t p = 0; p < k; ++p) {
    T a = ta ? A[p + row * lda] : A[row + p * lda];
    T v = tb ? B[col + p * ldb] : B[p + col * ldb];
    if (round) {
      a = (T)tf32((float)a);
      v = (T)tf32((float)v);
    }
    acc += (double)a * (double)v;
  }
  return acc;
}

}  // namespace tensile_double

// float32 bit patterns and ulps, for the tests that measure the vector math of native/cpu (vexp.h, vgelu.h, vact.h)
// against float64 on sweeps of the float range.

export const FLT_MAX = 3.4028234663852886e38;
const bits = new Uint32Array(1);
const asFloat = new Float32Array(bits.buffer);
/** The float32 with bit pattern u. */
export function fromBits(u: number): number {
  bits[0] = u;
  return asFloat[0]!;
}
/** The bit pattern of x rounded to float32. */
export function toBits(x: number): number {
  asFloat[0] = x;
  return bits[0]!;
}

/** The ulp of float32 at the magnitude of e (a double): 2^-149 below FLT_MIN (denormals), 2^104 at and above FLT_MAX. */
export function ulpAt(e: number): number {
  const a = Math.abs(e);
  if (a < 2 ** -126) return 2 ** -149;
  if (a >= FLT_MAX) return 2 ** 104;
  let ex = Math.floor(Math.log2(a));
  if (2 ** ex > a) ex--;
  if (2 ** (ex + 1) <= a) ex++;
  return 2 ** (ex - 23);
}

/** Every step-th float32 bit pattern from 0 to FLT_MAX, of both signs (step odd, so that every mantissa pattern turns up). */
export function floatSweep(step: number): Float32Array {
  const top = toBits(FLT_MAX);
  const n = Math.floor(top / step) + 1;
  const out = new Float32Array(2 * n);
  for (let k = 0; k < n; k++) {
    out[2 * k] = fromBits(k * step);
    out[2 * k + 1] = fromBits(0x80000000 + k * step);
  }
  return out;
}

# numpy (OpenBLAS) SGEMM, the peer of bench/run.js's GEMM rows. Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE
# unset so that OpenBLAS uses its AVX-512 kernels.
# Reads lines "M,K,N,reps" on stdin; for each, times reps products (a @ b, new arrays each, as the Node side makes
# new tensors) and prints the GFLOP/s of that one sample. run.js alternates these samples with its own, so that
# the machine's slow spells fall on both alike, and takes the median of each.
import sys, time
import numpy as np

arrays = {}
for line in sys.stdin:
    M, K, N, reps = map(int, line.strip().split(','))
    if (M, K, N) not in arrays:
        arrays[(M, K, N)] = (np.random.rand(M, K).astype(np.float32), np.random.rand(K, N).astype(np.float32))
        a, b = arrays[(M, K, N)]
        a @ b
    a, b = arrays[(M, K, N)]
    time.sleep(0.2)  # the Node side's threads stop spinning
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    s = time.perf_counter() - t
    print(f"{2 * M * K * N * reps / s / 1e9:.2f}", flush=True)

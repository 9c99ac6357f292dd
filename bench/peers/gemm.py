# numpy (OpenBLAS) SGEMM GFLOP/s for the shapes given as M,K,N triples; best of several runs after warm-up.
# Run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset so that OpenBLAS uses its AVX-512 kernels.
import sys, time
import numpy as np
for arg in sys.argv[1:]:
    M, K, N = map(int, arg.split(','))
    a = np.random.rand(M, K).astype(np.float32)
    b = np.random.rand(K, N).astype(np.float32)
    a @ b
    reps = max(3, int(2e9 / (2 * M * K * N)))
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, (time.perf_counter() - t) / reps)
    print(f"{arg} {2 * M * K * N / best / 1e9:.1f}")

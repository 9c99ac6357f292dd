# PyTorch on the same GPU cases as bench/gpu.js (the peer of the same run; TF32 off, as tensile's default):
# CUDA events around `reps` calls after warm-up, the median of a few samples.
# Usage: python3 bench/gpu_torch.py [--json out.json] [--quick] [--only sgemm,linear,conv,...]
# (bench/gpu.js --torch out.json then gives each of its cuda rows' time over these.)
import json, sys, torch
import torch.nn as nn, torch.nn.functional as F

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = 'cuda'
rows = []
quick = '--quick' in sys.argv
only = set(sys.argv[sys.argv.index('--only') + 1].split(',')) if '--only' in sys.argv else None
want = lambda group: only is None or group in only

def time(fn, reps=10, samples=5, warm=3):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(samples):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(reps):
            fn()
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b) / reps)
    return sorted(ts)[len(ts) // 2]

def row(group, name, ms, **extra):
    r = dict(group=group, name=name, device='torch', ms=round(ms, 4), **extra)
    rows.append(r)
    print(f"{group:8} {name:34} torch   {ms:10.3f} ms  " + ' '.join(f'{k}={v}' for k, v in extra.items()))

for n in ([] if not want('sgemm') else [1024, 2048] if quick else [1024, 2048, 4096, 8192]):
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    ms = time(lambda: a @ b, reps=3 if n >= 4096 else 10)
    row('sgemm', f'{n}x{n}x{n}', ms, gflops=round(2 * n ** 3 / ms / 1e6, 1))
# a linear layer with its ReLU, as a PyTorch user writes it (bench/gpu.js: matmul(x, W^T, { bias, relu: true }))
for N, I, O in ([] if not want('linear') else [(256, 576, 64), (4096, 1024, 4096)] if quick
                else [(256, 576, 64), (4096, 1024, 4096), (16384, 4096, 4096)]):
    x, w, b = torch.randn(N, I, device=dev), torch.randn(O, I, device=dev), torch.randn(O, device=dev)
    ms = time(lambda: F.relu(F.linear(x, w, b)), reps=3 if N * I * O >= 1 << 34 else 10)
    row('linear', f'relu(x W^T + b) {N}x{I}->{O}', ms, gflops=round(2 * N * I * O / ms / 1e6, 1))
for N, C, H, K in ([(64, 1, 28, 32), (64, 32, 14, 64), (32, 64, 56, 64), (8, 256, 14, 256)] if want('conv') else []):
    flop = 2 * N * H * H * K * C * 9
    x, w = torch.randn(N, C, H, H, device=dev), torch.randn(K, C, 3, 3, device=dev)
    ms = time(lambda: F.conv2d(x, w, padding=1))
    row('conv', f'fwd N{N} C{C} {H}x{H} K{K}', ms, gflops=round(flop / ms / 1e6, 1))
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    def fb():
        F.conv2d(xg, wg, padding=1).sum().backward()
        xg.grad = None
        wg.grad = None
    ms = time(fb, reps=5, samples=3)
    row('conv', f'fwd+bwd N{N} C{C} {H}x{H} K{K}', ms, gflops=round(3 * flop / ms / 1e6, 1))
for N, C, H in ([(64, 32, 28), (256, 64, 56)] if want('pool') else []):
    x = torch.randn(N, C, H, H, device=dev)
    ms = time(lambda: F.max_pool2d(x, 2))
    row('pool', f'max2x2 N{N} C{C} {H}x{H}', ms, gbps=round(4 * N * C * H * H * 1.25 / ms / 1e6, 1))
if want('copy'):
    x = torch.zeros(256 << 20, device=dev)
    ms = time(lambda: x.clone(), reps=5)
    row('copy', 'clone 1 GiB', ms, gbps=round(2 * 4 * x.numel() / ms / 1e6, 1))
    del x
for n in ([10_000_000, 100_000_000] if want('adam') else []):
    p = torch.randn(n, device=dev, requires_grad=True)
    p.grad = torch.randn(n, device=dev)
    opt = torch.optim.Adam([p], lr=1e-3, fused=True)
    ms = time(opt.step)
    row('adam', f'{n // 1_000_000}M params', ms, gbps=round(28 * n / ms / 1e6, 1))
for bs in ([64, 256] if want('cnn') else []):
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(576, 64), nn.ReLU(), nn.Linear(64, 10)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(bs, 1, 28, 28, device=dev), torch.randint(0, 10, (bs,), device=dev)
    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    ms = time(step, reps=20, samples=3)
    row('cnn', f'train step batch {bs}', ms, samples_per_s=round(bs * 1000 / ms))
if '--json' in sys.argv:
    with open(sys.argv[sys.argv.index('--json') + 1], 'w') as f:
        json.dump(dict(device=torch.cuda.get_device_name(0), torch=torch.__version__, rows=rows), f, indent=1)

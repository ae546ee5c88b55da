#!/usr/bin/python3
"""The PyTorch side of `dotnet run -c Release --project Benchmarks -- compare`.

Runs the same workloads as Benchmarks/Compare.cs (same model, batch sizes, data, optimizer, loss, window counts)
and prints one machine-readable line per result:

    peer <name> <value> <unit>

plus `peer_info key=value ...` lines describing the setup and `peer_error <text>` when something fails. Launched by
the C# program with OMP_NUM_THREADS=2 and LD_LIBRARY_PATH pointing at Debian's openblas-openmp (without it,
Debian's torch uses the reference BLAS); also sets torch.set_num_threads.
"""
import argparse
import gzip
import os
import statistics
import sys
import time


def emit(*parts):
    print(*parts, flush=True)


def load_idx(path):
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_data(directory, count):
    """Fashion-MNIST training images as floats in [0, 1] (like FashionMnist.Load), or synthetic data of that shape."""
    import numpy as np
    import torch

    def find(name):
        for candidate in (os.path.join(directory, name), os.path.join(directory, name + ".gz")):
            if os.path.exists(candidate):
                return candidate
        return None

    images = find("train-images-idx3-ubyte") if directory else None
    labels = find("train-labels-idx1-ubyte") if directory else None
    if images and labels:
        x = torch.from_numpy(load_idx(images).reshape(-1, 784).astype(np.float32) / np.float32(255))
        y = torch.from_numpy(load_idx(labels).astype(np.int64))
        return x, y, "real"
    g = torch.Generator().manual_seed(1)
    return torch.rand(count, 784, generator=g), torch.randint(0, 10, (count,), generator=g), "synthetic"


def mlp():
    import torch.nn as nn
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def timed_windows(fn, windows, per_window):
    """Runs fn per_window times per window; returns the seconds of each window."""
    times = []
    for _ in range(windows):
        start = time.perf_counter()
        for _ in range(per_window):
            fn()
        times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--windows", type=int, default=7)
    parser.add_argument("--train-steps", type=int, default=200)
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--infer1-calls", type=int, default=2000)
    parser.add_argument("--infer256-calls", type=int, default=50)
    parser.add_argument("--gemm-calls", type=int, default=5)
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    blas = "unknown"
    a = torch.randn(256, 256)
    (a @ a).sum().item()
    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "blas" in line}
        blas = ",".join(sorted(os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p) for p in libs)) or "none"
    except OSError:
        pass
    emit("peer_info", f"torch={torch.__version__}", f"threads={torch.get_num_threads()}", f"blas={blas}")

    x, y, kind = load_data(args.data_dir, args.samples)
    n = x.shape[0]
    emit("peer_info", f"data={kind}", f"samples={n}")

    # MLP training, batch 64: shuffled batches gathered from the training set, forward, cross-entropy, backward,
    # AdamW (ModelGen's defaults: lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01).
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    batch = 64
    state = {"perm": torch.randperm(n), "pos": 0}

    def train_step():
        pos = state["pos"]
        if pos + batch > n:
            state["perm"] = torch.randperm(n)
            pos = 0
        idx = state["perm"][pos:pos + batch]
        state["pos"] = pos + batch
        xb = x.index_select(0, idx)
        yb = y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()

    for _ in range(args.warmup_steps):
        train_step()
    times = timed_windows(train_step, args.windows, args.train_steps)
    emit("peer", "fashion_mlp_train_b64", f"{args.train_steps * batch / statistics.median(times):.1f}", "samples/s")

    # Inference: batch-1 latency and batch-256 throughput, no autograd.
    model.eval()
    with torch.inference_mode():
        x1 = x[:1].clone()
        for _ in range(200):
            model(x1)
        times = timed_windows(lambda: model(x1), args.windows, args.infer1_calls)
        emit("peer", "mlp_infer_b1_latency", f"{statistics.median(times) / args.infer1_calls * 1e6:.2f}", "us")
        x256 = x[:256].clone()
        for _ in range(10):
            model(x256)
        times = timed_windows(lambda: model(x256), args.windows, args.infer256_calls)
        emit("peer", "mlp_infer_b256", f"{args.infer256_calls * 256 / statistics.median(times):.1f}", "samples/s")

        # SGEMM 1024^3 into a preallocated output.
        size = 1024
        a = torch.rand(size, size) * 2 - 1
        b = torch.rand(size, size) * 2 - 1
        c = torch.empty(size, size)
        for _ in range(3):
            torch.mm(a, b, out=c)
        times = timed_windows(lambda: torch.mm(a, b, out=c), args.windows, args.gemm_calls)
        emit("peer", "sgemm_1024", f"{2.0 * size ** 3 * args.gemm_calls / statistics.median(times) / 1e9:.1f}", "GFLOP/s")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the C# side reports it and prints ModelGen's figures alone
        emit("peer_error", f"{type(e).__name__}: {e}".replace("\n", " "))
        sys.exit(1)

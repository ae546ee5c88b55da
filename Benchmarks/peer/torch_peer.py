#!/usr/bin/python3
"""The PyTorch side of `dotnet run -c Release --project Benchmarks -- compare`.

Runs the same workloads as Benchmarks/Compare.cs
(same model, batch sizes, data, optimizer, loss): it prints `peer_info key=value ...` lines describing the setup,
warms every workload up, prints `ready`, then serves timed windows: for each stdin line `<workload> <calls>` it runs
the workload that many times and prints `t <seconds>`. The C# side alternates these windows with its own. On a
failure it prints `peer_error <text>`. Launched by
the C# program with OMP_NUM_THREADS=2 and LD_LIBRARY_PATH pointing at Debian's openblas-openmp (without it,
Debian's torch uses the reference BLAS); also sets torch.set_num_threads.
"""
import argparse
import gzip
import os
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


def cnn():
    """The samples' FashionCnn (Samples/FashionMnist/FashionCnn.cs, compiled as Benchmarks/Models/BenchCnn.cs)."""
    import torch.nn as nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def trainer(model, x, y, batch, shape):
    """One training step per call: a shuffled batch gathered from the training set (reshaped to `shape` per sample),
    forward, cross-entropy, backward, AdamW (ModelGen's defaults: lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay
    0.01)."""
    import torch
    import torch.nn.functional as F
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    n = x.shape[0]
    state = {"perm": torch.randperm(n), "pos": 0}

    def step():
        pos = state["pos"]
        if pos + batch > n:
            state["perm"] = torch.randperm(n)
            pos = 0
        idx = state["perm"][pos:pos + batch]
        state["pos"] = pos + batch
        xb = x.index_select(0, idx).view(batch, *shape)
        yb = y.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()

    return step


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--warmup-steps", type=int, default=50)
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
    emit("peer_info", f"torch={torch.__version__}", f"threads={torch.get_num_threads()}", f"blas={blas}",
         f"omp_wait_policy={os.environ.get('OMP_WAIT_POLICY', 'default')}")

    x, y, kind = load_data(args.data_dir, args.samples)
    n = x.shape[0]
    emit("peer_info", f"data={kind}", f"samples={n}")

    # Training at batch 64: the MLP on flat rows, the CNN on (1, 28, 28) images.
    batch = 64
    train_step = trainer(mlp(), x, y, batch, (784,))
    cnn_step = trainer(cnn(), x, y, batch, (1, 28, 28))

    # Inference (no autograd) with a separate copy of the model, so training windows do not change it.
    infer_model = mlp().eval()
    x1 = x[:1].clone()
    x256 = x[:256].clone()

    def infer1():
        with torch.inference_mode():
            infer_model(x1)

    def infer256():
        with torch.inference_mode():
            infer_model(x256)

    size = 1024
    ga = torch.rand(size, size) * 2 - 1
    gb = torch.rand(size, size) * 2 - 1
    gc = torch.empty(size, size)

    def sgemm():
        torch.mm(ga, gb, out=gc)

    workloads = {"fashion_mlp_train_b64": train_step, "fashion_cnn_train_b64": cnn_step, "mlp_infer_b1_latency": infer1, "mlp_infer_b256": infer256,
                 "sgemm_1024": sgemm}
    for _ in range(args.warmup_steps):
        train_step()
    for _ in range(max(5, args.warmup_steps // 10)):
        cnn_step()
    for _ in range(200):
        infer1()
    for _ in range(10):
        infer256()
    for _ in range(3):
        sgemm()

    # Serve timed windows: the C# side sends "<workload> <calls>" and alternates these windows with its own, so
    # both sides see the same machine (this matters where other processes share the cores).
    emit("ready")
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        fn, calls = workloads[parts[0]], int(parts[1])
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        emit("t", f"{time.perf_counter() - start:.9f}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the C# side reports it and prints ModelGen's figures alone
        emit("peer_error", f"{type(e).__name__}: {e}".replace("\n", " "))
        sys.exit(1)

using System;
using BenchmarkDotNet.Attributes;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// Sgemm throughput: a square 1024³ product, and the products of one training step of the Fashion-MNIST MLP
/// (batch 64, 784 → 128 → 10): the forward X·W, and the backward Xᵀ·dY (weight gradient) and dY·Wᵀ (input gradient).
/// Each runs with 1 thread and with every core.
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    float[] _a = Array.Empty<float>();
    float[] _b = Array.Empty<float>();
    float[] _c = Array.Empty<float>();
    float[] _bias = Array.Empty<float>();

    /// <summary>Worker threads: 1, or all cores.</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    /// <summary>Allocates operands large enough for every case.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        _a = Fill(rng, 1024 * 1024);
        _b = Fill(rng, 1024 * 1024);
        _c = new float[1024 * 1024];
        _bias = Fill(rng, 1024);
        CpuFeatures.Threads = Threads == 0 ? Environment.ProcessorCount : Threads;
    }

    static float[] Fill(Random rng, int n)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++)
            a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>C = A·B, 1024 × 1024 × 1024 (2.15 GFLOP).</summary>
    [Benchmark]
    public void Square1024() => Gemm.Sgemm(false, false, 1024, 1024, 1024, _a, 1024, _b, 1024, _c, 1024);

    /// <summary>C = Aᵀ·B at 1024³ (the weight-gradient case).</summary>
    [Benchmark]
    public void Square1024TransA() => Gemm.Sgemm(true, false, 1024, 1024, 1024, _a, 1024, _b, 1024, _c, 1024);

    /// <summary>C = A·Bᵀ at 1024³ (the input-gradient case).</summary>
    [Benchmark]
    public void Square1024TransB() => Gemm.Sgemm(false, true, 1024, 1024, 1024, _a, 1024, _b, 1024, _c, 1024);

    /// <summary>Batch-1 inference of the hidden layer: 1 × 784 · 784 × 128 + b, ReLU (the unpacked thin path).</summary>
    [Benchmark]
    public void MlpHiddenForwardBatch1() => Gemm.Sgemm(false, false, 1, 128, 784, _a, 784, _b, 128, _c, 128, _bias.AsSpan(0, 128), Activation.Relu);

    /// <summary>Forward of the hidden layer: H = relu(X·W + b), X 64 × 784, W 784 × 128.</summary>
    [Benchmark]
    public void MlpHiddenForward() => Gemm.Sgemm(false, false, 64, 128, 784, _a, 784, _b, 128, _c, 128, _bias.AsSpan(0, 128), Activation.Relu);

    /// <summary>Forward of the output layer: Y = H·W2 + b2, H 64 × 128, W2 128 × 10.</summary>
    [Benchmark]
    public void MlpOutputForward() => Gemm.Sgemm(false, false, 64, 10, 128, _a, 128, _b, 10, _c, 10, _bias.AsSpan(0, 10));

    /// <summary>Weight gradient of the hidden layer: dW = Xᵀ·dH (784 × 64 · 64 × 128), the Aᵀ·B case.</summary>
    [Benchmark]
    public void MlpHiddenWeightGradient() => Gemm.Sgemm(true, false, 784, 128, 64, _a, 784, _b, 128, _c, 128);

    /// <summary>Weight gradient of the output layer: dW2 = Hᵀ·dY (128 × 64 · 64 × 10), the Aᵀ·B case.</summary>
    [Benchmark]
    public void MlpOutputWeightGradient() => Gemm.Sgemm(true, false, 128, 10, 64, _a, 128, _b, 10, _c, 10);

    /// <summary>Input gradient of the output layer: dH = dY·W2ᵀ (64 × 10 · 10 × 128), the A·Bᵀ case.</summary>
    [Benchmark]
    public void MlpOutputInputGradient() => Gemm.Sgemm(false, true, 64, 128, 10, _a, 10, _b, 10, _c, 128);

    /// <summary>Input gradient of the hidden layer: dX = dH·Wᵀ (64 × 128 · 128 × 784), the A·Bᵀ case.</summary>
    [Benchmark]
    public void MlpHiddenInputGradient() => Gemm.Sgemm(false, true, 64, 784, 128, _a, 128, _b, 128, _c, 784);
}

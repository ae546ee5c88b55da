using System;
using BenchmarkDotNet.Attributes;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// The non-GEMM kernels of a training step: softmax cross-entropy forward and backward (the MLP's 64 × 10 logits, and
/// a 256 × 1000 classifier), the bias-gradient row sum, and the generated fused elementwise loops (the TrainStep of
/// <see cref="ElementwiseBench"/>, 256 × 1024 floats, no GEMM).
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    float[] _logits = Array.Empty<float>();
    float[] _probabilities = Array.Empty<float>();
    float[] _grad = Array.Empty<float>();
    int[] _labels = Array.Empty<int>();
    float[] _rows = Array.Empty<float>();
    float[] _sums = Array.Empty<float>();
    float[] _x = Array.Empty<float>();
    float[] _target = Array.Empty<float>();
    CompiledProgram? _elementwise;

    /// <summary>Rows × classes of the softmax cross-entropy cases.</summary>
    [Params("64x10", "256x1000")]
    public string Shape { get; set; } = "64x10";

    int Rows => Shape == "64x10" ? 64 : 256;

    int Classes => Shape == "64x10" ? 10 : 1000;

    /// <summary>Allocates the operands and compiles the elementwise model.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(7);
        _logits = new float[Rows * Classes];
        for (int i = 0; i < _logits.Length; i++) _logits[i] = rng.NextSingle() * 8 - 4;
        _probabilities = new float[_logits.Length];
        _grad = new float[_logits.Length];
        _labels = new int[Rows];
        for (int i = 0; i < _labels.Length; i++) _labels[i] = rng.Next(Classes);
        _rows = new float[64 * 128];
        for (int i = 0; i < _rows.Length; i++) _rows[i] = rng.NextSingle();
        _sums = new float[128];
        _x = new float[256 * 1024];
        _target = new float[256 * 1024];
        for (int i = 0; i < _x.Length; i++) { _x[i] = rng.NextSingle() * 2 - 1; _target[i] = rng.NextSingle(); }
        _elementwise = new ElementwiseBench(seed: 1).CreateProgram(256);
    }

    /// <summary>Softmax cross-entropy loss and probabilities.</summary>
    [Benchmark]
    public float SoftmaxCrossEntropy() => Kernels.SoftmaxCrossEntropy(_logits, _labels, Rows, Classes, _probabilities);

    /// <summary>Its gradient with respect to the logits.</summary>
    [Benchmark]
    public void SoftmaxCrossEntropyBackward() => Kernels.SoftmaxCrossEntropyBackward(_probabilities, _labels, Rows, Classes, 1f, _grad);

    /// <summary>The hidden bias gradient of the MLP: column sums of 64 × 128.</summary>
    [Benchmark]
    public void SumRows64x128() => Kernels.SumRows(_rows, 64, 128, _sums, accumulate: false);

    /// <summary>Generated fused elementwise forward and backward loops over 256 × 1024 (ElementwiseBench.TrainStep).</summary>
    [Benchmark]
    public float FusedElementwiseTrainStep() => _elementwise!.TrainStep(_x, default, _target, 256, default);
}

using System;
using BenchmarkDotNet.Attributes;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// Whole steps of the Fashion-MNIST MLP (784 → 128 → 10): the generated TrainStep followed by AdamW.Step at batch 64
/// (and each half alone), and inference at batch 1 and 256. Synthetic inputs of the real shape; 1 thread or all cores.
/// </summary>
[MemoryDiagnoser]
public class TrainStepBenchmarks
{
    BenchMlp? _model;
    CompiledProgram? _train;
    CompiledProgram? _infer;
    AdamW? _adam;
    float[] _x = Array.Empty<float>();
    int[] _labels = Array.Empty<int>();
    float[] _y = Array.Empty<float>();

    /// <summary>Worker threads: 1, or all cores.</summary>
    [Params(1, 0)]
    public int Threads { get; set; }

    /// <summary>Builds the model and programs and runs a few warm-up steps (so the optimizer state exists).</summary>
    [GlobalSetup]
    public void Setup()
    {
        CpuFeatures.Threads = Threads == 0 ? Environment.ProcessorCount : Threads;
        var rng = new Random(3);
        _x = new float[256 * 784];
        for (int i = 0; i < _x.Length; i++) _x[i] = rng.NextSingle();
        _labels = new int[64];
        for (int i = 0; i < _labels.Length; i++) _labels[i] = rng.Next(10);
        _y = new float[256 * 10];
        _model = new BenchMlp(seed: 1);
        _train = _model.CreateProgram(64);
        _infer = _model.CreateProgram(256);
        _adam = new AdamW(1e-3f);
        for (int i = 0; i < 3; i++) TrainStepAdamW();
    }

    /// <summary>One training step: generated TrainStep (forward, loss, backward) + AdamW.Step, batch 64.</summary>
    [Benchmark]
    public void TrainStepAdamW()
    {
        _train!.TrainStep(_x.AsSpan(0, 64 * 784), _labels, default, 64, default);
        _adam!.Step(_model!.Parameters);
    }

    /// <summary>The generated TrainStep alone, batch 64.</summary>
    [Benchmark]
    public float TrainStepOnly() => _train!.TrainStep(_x.AsSpan(0, 64 * 784), _labels, default, 64, default);

    /// <summary>AdamW.Step alone over the 101,770 parameters.</summary>
    [Benchmark]
    public void AdamWStepOnly() => _adam!.Step(_model!.Parameters);

    /// <summary>Inference of one sample.</summary>
    [Benchmark]
    public void InferBatch1() => _infer!.Infer(_x.AsSpan(0, 784), 1, _y.AsSpan(0, 10));

    /// <summary>Inference of 256 samples.</summary>
    [Benchmark]
    public void InferBatch256() => _infer!.Infer(_x, 256, _y);
}

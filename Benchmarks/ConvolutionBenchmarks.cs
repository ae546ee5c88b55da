using System;
using BenchmarkDotNet.Attributes;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// The convolution kernels of the samples' CNN at batch 64, forward and both backward passes: conv1 (1 → 32 channels,
/// 28 × 28, 3 × 3, padding 1) and conv2 (32 → 64 channels, 14 × 14), with the workspace the generated code gives them.
/// </summary>
[MemoryDiagnoser]
public class ConvolutionBenchmarks
{
    float[] _x = Array.Empty<float>();
    float[] _w = Array.Empty<float>();
    float[] _bias = Array.Empty<float>();
    float[] _y = Array.Empty<float>();
    float[] _dx = Array.Empty<float>();
    float[] _dw = Array.Empty<float>();
    float[] _workspace = Array.Empty<float>();
    Conv2dGeometry _g;

    /// <summary>Which layer of the CNN.</summary>
    [Params("conv1", "conv2")]
    public string Layer { get; set; } = "conv2";

    /// <summary>Allocates the operands with random values.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _g = Layer == "conv1"
            ? new Conv2dGeometry(64, 1, 28, 28, 32, Kernel: 3, Padding: 1)
            : new Conv2dGeometry(64, 32, 14, 14, 64, Kernel: 3, Padding: 1);
        var rng = new Random(3);
        float[] Random(int n)
        {
            var a = new float[n];
            for (int i = 0; i < n; i++) a[i] = rng.NextSingle() - 0.5f;
            return a;
        }
        int inputs = _g.Batch * _g.Channels * _g.Height * _g.Width;
        int outputs = _g.Batch * _g.OutChannels * _g.Height * _g.Width; // padding 1 keeps the size
        _x = Random(inputs);
        _w = Random(_g.OutChannels * _g.Channels * 9);
        _bias = Random(_g.OutChannels);
        _y = Random(outputs);
        _dx = new float[inputs];
        _dw = new float[_w.Length];
        _workspace = new float[Kernels.Conv2dWorkspace(_g)];
    }

    /// <summary>y = conv(x, w) + bias.</summary>
    [Benchmark]
    public void Forward() => Kernels.Conv2dForward(_x, _w, _bias, _y, _workspace, _g);

    /// <summary>dx from dy (col2im of wᵀ·dy).</summary>
    [Benchmark]
    public void BackwardData() => Kernels.Conv2dBackwardData(_y, _w, _dx, _workspace, _g);

    /// <summary>dw from x and dy.</summary>
    [Benchmark]
    public void BackwardWeight() => Kernels.Conv2dBackwardWeight(_x, _y, _dw, _workspace, _g);
}

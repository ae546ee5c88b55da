using System;
using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ModelGen.Cpu;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Gpu.Tests;

/// <summary>
/// <see cref="GpuKernels.Sgemm"/> against <see cref="Gemm.Sgemm"/> on the CPU. Tolerance: |gpu − cpu| ≤ 1e-4 + 1e-4·|cpu|
/// per element (operands uniform in [−1, 1), depths up to 130: the sums differ only in rounding order and FMA).
/// The whole of C is compared, padding columns included (neither side may write them).
/// </summary>
public class GemmTests
{
    const float Atol = 1e-4f, Rtol = 1e-4f;

    readonly ITestOutputHelper _output;

    /// <summary>xunit's output, for the speed of the large product on a real GPU.</summary>
    public GemmTests(ITestOutputHelper output) => _output = output;

    static readonly Lazy<GpuDevice> Wide = new(() =>
    {
        // The 128 × 128 block needs 256 threads a group; ILGPU's default CPU accelerator runs 16. An accelerator
        // simulating 8 warps of 32 runs the 128 and 64 blocks on the CPU.
        var device = GpuTestDevice.Device;
        if (device.Accelerator.MaxNumThreadsPerGroup >= 256)
            return device;
        var context = Context.Create(builder => builder.CPU(new CPUDevice(32, 8, 1)).EnableAlgorithms());
        return new GpuDevice(context, context.GetCPUDevice(0), DeviceKind.GpuEmulator, 1);
    });

    /// <summary>Runs both sides on random operands and compares C; returns nothing, asserts.</summary>
    static void Check(GpuDevice device, GemmTile tile, bool transA, bool transB, int m, int n, int k,
        int padA = 0, int padB = 0, int padC = 0, bool bias = false, Activation activation = Activation.None,
        bool accumulate = false, int seed = 1)
    {
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + padA, ldb = bCols + padB, ldc = n + padC;
        // A zero-column operand still has a stride of at least 1.
        lda = Math.Max(lda, 1);
        ldb = Math.Max(ldb, 1);
        float[] a = GpuTestDevice.Random(aRows == 0 ? 0 : (aRows - 1) * lda + aCols, seed);
        float[] b = GpuTestDevice.Random(bRows == 0 ? 0 : (bRows - 1) * ldb + bCols, seed + 1);
        float[] c = GpuTestDevice.Random(m * ldc, seed + 2, -2f, 2f);
        float[] bv = bias ? GpuTestDevice.Random(n, seed + 3, -3f, 3f) : Array.Empty<float>();

        float[] expected = (float[])c.Clone();
        Gemm.Sgemm(transA, transB, m, n, k, a, lda, b, ldb, expected, ldc, bv, activation, accumulate);

        using var da = Upload(device, a);
        using var db = Upload(device, b);
        using var dc = Upload(device, c);
        using var dbias = Upload(device, bv);
        GpuKernels.SgemmTiled(device, tile, transA, transB, m, n, k, da.View, lda, db.View, ldb, dc.View, ldc,
            bias ? dbias.View : default, activation, accumulate);
        device.Synchronize();
        var actual = new float[c.Length];
        if (actual.Length > 0) dc.View.SubView(0, actual.Length).CopyToCPU(device.Stream, actual);
        device.Synchronize();
        GpuTestDevice.Close(expected, actual, Atol, Rtol,
            $"{tile} {(transA ? "T" : "N")}{(transB ? "T" : "N")} {m}x{n}x{k} pads {padA}/{padB}/{padC} bias {bias} {activation} acc {accumulate} C");
    }

    static MemoryBuffer1D<float, Stride1D.Dense> Upload(GpuDevice device, float[] values)
    {
        var buffer = device.Allocate<float>(values.Length, "test data");
        if (values.Length > 0) buffer.View.SubView(0, values.Length).CopyFromCPU(device.Stream, values);
        return buffer;
    }

    public static TheoryData<bool, bool> Transposes => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Odd_shapes_match_the_cpu(bool transA, bool transB)
    {
        var device = GpuTestDevice.Device;
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 5, 7), (17, 33, 9), (65, 130, 67), (1, 70, 33), (40, 1, 3) })
            Check(device, GemmTile.Auto, transA, transB, m, n, k, seed: m + n + k);
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Strides_wider_than_the_rows_match_the_cpu(bool transA, bool transB)
    {
        var device = GpuTestDevice.Device;
        Check(device, GemmTile.Auto, transA, transB, 19, 37, 23, padA: 3, padB: 5, padC: 7);
        Check(device, GemmTile.Auto, transA, transB, 33, 9, 40, padA: 1, padB: 2, padC: 1, accumulate: true);
    }

    [Theory]
    [InlineData(Activation.None)]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Tanh)]
    [InlineData(Activation.Sigmoid)]
    public void Bias_and_activation_match_the_cpu(Activation activation)
    {
        var device = GpuTestDevice.Device;
        Check(device, GemmTile.Auto, false, false, 35, 41, 17, bias: true, activation: activation);
        Check(device, GemmTile.Auto, true, true, 9, 66, 5, padC: 3, bias: true, activation: activation);
        Check(device, GemmTile.Auto, false, true, 21, 13, 30, activation: activation);
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void Accumulate_adds_to_c(bool transA, bool transB)
    {
        var device = GpuTestDevice.Device;
        Check(device, GemmTile.Auto, transA, transB, 3, 5, 7, accumulate: true);
        Check(device, GemmTile.Auto, transA, transB, 34, 67, 45, padC: 2, accumulate: true);
    }

    [Fact]
    public void Depth_zero_gives_the_activated_bias_or_leaves_c()
    {
        var device = GpuTestDevice.Device;
        Check(device, GemmTile.Auto, false, false, 5, 7, 0);
        Check(device, GemmTile.Auto, true, false, 5, 7, 0, padC: 2, bias: true, activation: Activation.Sigmoid);
        Check(device, GemmTile.Auto, false, true, 33, 3, 0, bias: true, activation: Activation.Tanh);
        Check(device, GemmTile.Auto, false, false, 6, 4, 0, padC: 1, accumulate: true);
    }

    [Fact]
    public void Empty_products_leave_c()
    {
        var device = GpuTestDevice.Device;
        Check(device, GemmTile.Auto, false, false, 0, 7, 3);
        Check(device, GemmTile.Auto, true, true, 4, 0, 3);
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void The_128_block_matches_the_cpu(bool transA, bool transB)
    {
        var device = Wide.Value;
        Check(device, GemmTile.Tile128, transA, transB, 130, 129, 19, padA: 1, padB: 3, padC: 2, bias: true, activation: Activation.Relu);
        Check(device, GemmTile.Tile128, transA, transB, 7, 3, 9, accumulate: true);
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void The_64_block_matches_the_cpu(bool transA, bool transB)
    {
        var device = Wide.Value;
        Check(device, GemmTile.Tile64, transA, transB, 65, 130, 67, padA: 2, padB: 1, padC: 3, bias: true, activation: Activation.Tanh);
        Check(device, GemmTile.Tile64, transA, transB, 1, 1, 1, accumulate: true);
    }

    [Fact]
    public void Bad_arguments_throw()
    {
        var device = GpuTestDevice.Device;
        using var a = GpuTestDevice.Zeros(12);
        using var b = GpuTestDevice.Zeros(20);
        using var c = GpuTestDevice.Zeros(15);
        // A 3 x 4 times 4 x 5 into 3 x 5 fits exactly.
        GpuKernels.Sgemm(device, false, false, 3, 5, 4, a.View, 4, b.View, 5, c.View, 5);
        device.Synchronize();
        // One element short of A, B, C; a stride below the width; a short bias; bias while accumulating; negative size.
        Assert.Throws<ArgumentException>(() => GpuKernels.Sgemm(device, false, false, 3, 5, 4, a.View.SubView(0, 11), 4, b.View, 5, c.View, 5));
        Assert.Throws<ArgumentException>(() => GpuKernels.Sgemm(device, false, false, 3, 5, 4, a.View, 4, b.View.SubView(0, 19), 5, c.View, 5));
        Assert.Throws<ArgumentException>(() => GpuKernels.Sgemm(device, false, false, 3, 5, 4, a.View, 4, b.View, 5, c.View.SubView(0, 14), 5));
        Assert.Throws<ArgumentException>(() => GpuKernels.Sgemm(device, true, false, 3, 5, 4, a.View, 2, b.View, 5, c.View, 5));
        Assert.Throws<ArgumentException>(() => GpuKernels.Sgemm(device, false, false, 3, 5, 4, a.View, 4, b.View, 5, c.View, 5, b.View.SubView(0, 4)));
        Assert.Throws<ArgumentException>(() => GpuKernels.Sgemm(device, false, false, 3, 5, 4, a.View, 4, b.View, 5, c.View, 5, b.View.SubView(0, 5), accumulate: true));
        Assert.Throws<ArgumentException>(() => GpuKernels.Sgemm(device, false, false, 3, 5, 4, a.View, 4, b.View, 5, c.View, 5, activation: Activation.Relu, accumulate: true));
        Assert.Throws<ArgumentException>(() => GpuKernels.Sgemm(device, false, false, -1, 5, 4, a.View, 4, b.View, 5, c.View, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => GpuKernels.Sgemm(device, false, false, 3, 5, 4, a.View, 4, b.View, 5, c.View, 5, activation: (Activation)9));
    }

    /// <summary>
    /// On a real GPU only (<c>MODELGEN_GPU_TEST_DEVICE=cuda:0</c>; a no-op on the emulator): 4096³ in each transpose
    /// combination, 64 sampled elements checked against double-precision dot products (|err| ≤ 2e-3 + 1e-4·|ref|,
    /// depth 4096), and the speed written to the test output (run with <c>--logger "console;verbosity=detailed"</c>).
    /// </summary>
    [Fact]
    public void Large_products_on_a_real_gpu()
    {
        var device = GpuTestDevice.Device;
        if (device.Kind == DeviceKind.GpuEmulator)
            return;
        const int size = 4096;
        float[] a = GpuTestDevice.Random(size * size, 11), b = GpuTestDevice.Random(size * size, 12);
        using var da = Upload(device, a);
        using var db = Upload(device, b);
        using var dc = device.Allocate<float>((long)size * size, "C");
        var rng = new Random(5);
        foreach (var (transA, transB) in new[] { (false, false), (false, true), (true, false), (true, true) })
        {
            void Run() => GpuKernels.Sgemm(device, transA, transB, size, size, size, da.View, size, db.View, size, dc.View, size);
            Run();
            device.Synchronize();
            const int reps = 10;
            var watch = Stopwatch.StartNew();
            for (int r = 0; r < reps; r++) Run();
            device.Synchronize();
            double seconds = watch.Elapsed.TotalSeconds / reps;
            _output.WriteLine($"{device.Id} {device.Name} Sgemm {(transA ? "T" : "N")}{(transB ? "T" : "N")} {size}^3: {seconds * 1e3:F2} ms, {2.0 * size * size * size / seconds / 1e12:F2} TFLOP/s");

            var c = new float[(long)size * size];
            dc.View.CopyToCPU(device.Stream, c);
            device.Synchronize();
            for (int s = 0; s < 64; s++)
            {
                int i = rng.Next(size), j = rng.Next(size);
                double e = 0;
                for (int p = 0; p < size; p++)
                    e += (double)(transA ? a[p * size + i] : a[i * size + p]) * (transB ? b[j * size + p] : b[p * size + j]);
                float got = c[(long)i * size + j];
                Assert.True(Math.Abs(got - e) <= 2e-3 + 1e-4 * Math.Abs(e), $"{(transA ? "T" : "N")}{(transB ? "T" : "N")} C[{i},{j}]: expected {e}, got {got}");
            }
        }
    }
}

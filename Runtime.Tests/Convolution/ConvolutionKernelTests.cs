using System;
using System.Linq;
using ModelGen.Cpu;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Convolution;

/// <summary>
/// Each Convolution-family kernel of ModelGen.Cpu.Kernels against the reference (run in double) on odd shapes, under
/// every SIMD level this CPU has. Tolerance: |kernel − reference| ≤ 1e-5 · (1 + max|reference|) per tensor (float
/// GEMM sums against double sums); layout kernels and max pooling must be exact.
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public class ConvolutionKernelTests
{
    public static TheoryData<SimdLevel, string, Conv2dGeometry> Cases()
    {
        var data = new TheoryData<SimdLevel, string, Conv2dGeometry>();
        var shapes = new (string, Conv2dGeometry)[]
        {
            ("stride 2, padding 1", new Conv2dGeometry(3, 3, 9, 7, 5, 3, Stride: 2, Padding: 1)),
            ("dilation 2, padding 2, groups 2", new Conv2dGeometry(2, 4, 11, 13, 6, 3, Padding: 2, Dilation: 2, Groups: 2)),
            ("depthwise", new Conv2dGeometry(2, 5, 8, 9, 5, 3, Stride: 2, Padding: 1, Groups: 5)),
            ("pointwise", new Conv2dGeometry(2, 7, 5, 7, 3, 1)),
            ("5x5, stride 3", new Conv2dGeometry(1, 2, 17, 19, 19, 5, Stride: 3, Padding: 2)),
            ("wide rows (SIMD body)", new Conv2dGeometry(2, 3, 6, 37, 17, 3, Padding: 1)),
            // Many output channels over small planes: the forward product is computed transposed (positions × channels).
            ("transposed forward, 64 channels of 5x7", new Conv2dGeometry(3, 16, 5, 7, 64, 3, Padding: 1)),
            ("transposed forward, groups 2 of 32 channels", new Conv2dGeometry(2, 16, 6, 5, 64, 3, Padding: 1, Groups: 2)),
            // Stride 1, one group, C·k·k ≥ 32: the implicit GEMM over the pitched layout (forward, data and weight
            // gradients), with partial slivers of output channels, output rows narrower than 8 (scalar transposition),
            // padding 0 up to k − 1, an even kernel, batch 1 and odd batches.
            ("implicit, 33 → 37 channels, batch 7", new Conv2dGeometry(7, 33, 9, 11, 37, 3, Padding: 1)),
            ("implicit 5x5, padding 2, narrow rows", new Conv2dGeometry(3, 8, 12, 7, 21, 5, Padding: 2)),
            ("implicit, padding 0, batch 1", new Conv2dGeometry(1, 16, 10, 13, 24, 3)),
            ("implicit, padding 2 = k - 1", new Conv2dGeometry(2, 12, 6, 9, 9, 3, Padding: 2)),
            ("implicit 2x2, padding 1", new Conv2dGeometry(5, 20, 7, 8, 16, 2, Padding: 1)),
            ("implicit, 64 → 65 channels, batch 5", new Conv2dGeometry(5, 64, 6, 17, 65, 3, Padding: 1)),
            // Stride 1 but C·k·k < 32 (a first layer): im2col + GEMM; the data gradient (O·k·k ≥ 32) is implicit.
            ("shallow, 1 → 7 channels", new Conv2dGeometry(3, 1, 28, 20, 7, 3, Padding: 1)),
            ("shallow, 2 → 5 channels, padding 0", new Conv2dGeometry(2, 2, 9, 19, 5, 3)),
        };
        foreach (var level in CpuTestSupport.AllLevels)
            foreach (var (name, g) in shapes) data.Add(level, name, g);
        return data;
    }

    static void AssertClose(double[] expected, float[] actual, string what, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1 + expected.Select(Math.Abs).DefaultIfEmpty(0).Max();
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    static double[] D(float[] x) => x.Select(v => (double)v).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public void ConvolutionKernelsMatchReference(SimdLevel level, string name, Conv2dGeometry g)
    {
        using var forced = CpuTestSupport.Force(level);
        var rng = new Random(name.Length);
        int xn = g.Batch * g.Channels * g.Height * g.Width, wn = g.OutChannels * g.GroupChannels * g.Kernel * g.Kernel;
        int yn = g.Batch * g.OutChannels * g.OutHeight * g.OutWidth;
        float[] x = CpuTestSupport.Random(rng, xn), w = CpuTestSupport.Random(rng, wn), b = CpuTestSupport.Random(rng, g.OutChannels);
        float[] dy = CpuTestSupport.Random(rng, yn);
        // Workspace filled with garbage: kernels must not depend on its contents.
        var workspace = Enumerable.Repeat(float.NaN, Kernels.Conv2dWorkspace(g)).ToArray();

        var y = new float[yn];
        Kernels.Conv2dForward(x, w, b, y, workspace, g);
        var yRef = new double[yn];
        Reference.Conv2d<double>(D(x), D(w), D(b), yRef, g);
        AssertClose(yRef, y, $"{name} y");

        double[] dxRef = new double[xn], dwRef = new double[wn], dbRef = new double[g.OutChannels];
        Reference.Conv2dBackward<double>(D(x), D(w), D(dy), dxRef, dwRef, dbRef, g);
        var dx = Enumerable.Repeat(7f, xn).ToArray(); // overwritten, not accumulated
        Array.Fill(workspace, float.NaN);
        Kernels.Conv2dBackwardData(dy, w, dx, workspace, g);
        AssertClose(dxRef, dx, $"{name} dx");
        var dw = Enumerable.Repeat(7f, wn).ToArray();
        Array.Fill(workspace, float.NaN);
        Kernels.Conv2dBackwardWeight(x, dy, dw, workspace, g);
        AssertClose(dwRef, dw, $"{name} dw");
        var db = new float[g.OutChannels];
        Kernels.ChannelSum(dy, db, g.Batch, g.OutChannels, g.OutHeight * g.OutWidth);
        AssertClose(dbRef, db, $"{name} db");
    }

    /// <summary>
    /// The fused epilogue: act(conv2d(x, w) + b) in one call equals the reference convolution followed by the
    /// activation, with and without a bias, on every shape and SIMD level (odd plane sizes exercise the scalar tails).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardWithFusedActivationMatchesReference(SimdLevel level, string name, Conv2dGeometry g)
    {
        using var forced = CpuTestSupport.Force(level);
        var rng = new Random(name.Length + 1);
        int xn = g.Batch * g.Channels * g.Height * g.Width, wn = g.OutChannels * g.GroupChannels * g.Kernel * g.Kernel;
        int yn = g.Batch * g.OutChannels * g.OutHeight * g.OutWidth;
        float[] x = CpuTestSupport.Random(rng, xn), w = CpuTestSupport.Random(rng, wn), b = CpuTestSupport.Random(rng, g.OutChannels);
        var workspace = Enumerable.Repeat(float.NaN, Kernels.Conv2dWorkspace(g)).ToArray();
        foreach (var act in new[] { Activation.Relu, Activation.Tanh, Activation.Sigmoid })
        {
            foreach (bool withBias in new[] { true, false })
            {
                var yRef = new double[yn];
                Reference.Conv2d<double>(D(x), D(w), withBias ? D(b) : new double[g.OutChannels], yRef, g);
                for (int i = 0; i < yn; i++)
                    yRef[i] = act switch { Activation.Relu => Math.Max(yRef[i], 0), Activation.Tanh => Math.Tanh(yRef[i]), _ => 1 / (1 + Math.Exp(-yRef[i])) };
                var y = Enumerable.Repeat(7f, yn).ToArray();
                Kernels.Conv2dForward(x, w, withBias ? b : default, y, workspace, g, act);
                AssertClose(yRef, y, $"{name} {act}{(withBias ? " + bias" : "")} y");
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.Conv2dForward(x, w, b, new float[yn], workspace, g, (Activation)99));
    }

    [Theory]
    [InlineData(SimdLevel.Avx512)]
    [InlineData(SimdLevel.Avx2)]
    [InlineData(SimdLevel.Scalar)]
    public void Col2ImIsTheAdjointOfIm2Col(SimdLevel level)
    {
        // <im2col(x), c> = <x, col2im(c)> for any x and c.
        using var forced = CpuTestSupport.Force(level);
        var rng = new Random(3);
        const int C = 3, H = 7, W = 23, K = 3, S = 2, P = 2, Dl = 2;
        int ho = Conv2dGeometry.OutSize(H, K, S, P, Dl), wo = Conv2dGeometry.OutSize(W, K, S, P, Dl);
        float[] x = CpuTestSupport.Random(rng, C * H * W), c = CpuTestSupport.Random(rng, C * K * K * ho * wo);
        var col = new float[c.Length];
        Kernels.Im2Col(x, col, C, H, W, K, S, P, Dl);
        var back = new float[x.Length];
        Kernels.Col2Im(c, back, C, H, W, K, S, P, Dl);
        double left = col.Zip(c, (a, b) => (double)a * b).Sum(), right = x.Zip(back, (a, b) => (double)a * b).Sum();
        Assert.Equal(left, right, 4);
    }

    [Theory]
    [InlineData(SimdLevel.Avx512)]
    [InlineData(SimdLevel.Avx2)]
    [InlineData(SimdLevel.Scalar)]
    public void PoolingKernelsMatchReference(SimdLevel level)
    {
        using var forced = CpuTestSupport.Force(level);
        var rng = new Random(4);
        // (3, 15, 17, 3, 2, 0): overlapping windows that fit the 2 × 2 blocks of the backward pass (2·Ho ≤ H, 2·Wo ≤ W),
        // whose maxima mostly lie outside them (the plane is then scattered instead).
        foreach (var (planes, h, w, k, s, p) in new[] { (5, 9, 7, 3, 2, 1), (3, 8, 8, 2, 2, 0), (2, 5, 19, 3, 1, 1), (4, 6, 7, 2, 3, 1), (3, 15, 17, 3, 2, 0), (2, 9, 24, 3, 2, 0) })
        {
            int ho = Conv2dGeometry.OutSize(h, k, s, p, 1), wo = Conv2dGeometry.OutSize(w, k, s, p, 1);
            float[] x = CpuTestSupport.Random(rng, planes * h * w), dy = CpuTestSupport.Random(rng, planes * ho * wo);
            // Ties: a few repeated values, which must go to the first tap in both implementations.
            for (int i = 0; i < x.Length; i += 5) x[i] = 0.5f;
            float[] y = new float[planes * ho * wo], argmax = new float[y.Length], dx = Enumerable.Repeat(3f, x.Length).ToArray();
            Kernels.MaxPool2d(x, y, argmax, planes, h, w, k, s, p);
            Kernels.MaxPool2dBackward(argmax, dy, dx, planes, h, w, ho, wo);
            float[] yRef = new float[y.Length], dxRef = new float[x.Length];
            Reference.MaxPool2d<float>(x, yRef, planes, h, w, k, s, p);
            Reference.MaxPool2dBackward<float>(x, dy, dxRef, planes, h, w, k, s, p);
            Assert.Equal(yRef, y);
            Assert.Equal(dxRef, dx);

            Kernels.AvgPool2d(x, y, planes, h, w, k, s, p);
            Kernels.AvgPool2dBackward(dy, dx, planes, h, w, k, s, p);
            double[] yd = new double[y.Length], dxd = new double[x.Length];
            Reference.AvgPool2d<double>(D(x), yd, planes, h, w, k, s, p);
            Reference.AvgPool2dBackward<double>(D(dy), dxd, planes, h, w, k, s, p);
            AssertClose(yd, y, "avg y");
            AssertClose(dxd, dx, "avg dx");

            float[] gy = new float[planes], gdx = new float[x.Length];
            Kernels.GlobalAvgPool(x, gy, planes, h * w);
            Kernels.GlobalAvgPoolBackward(dy.AsSpan(0, planes), gdx, planes, h * w);
            double[] gyd = new double[planes], gdxd = new double[x.Length];
            Reference.GlobalAvgPool<double>(D(x), gyd, planes, h * w);
            Reference.GlobalAvgPoolBackward<double>(D(dy).AsSpan(0, planes), gdxd, planes, h * w);
            AssertClose(gyd, gy, "global y");
            AssertClose(gdxd, gdx, "global dx");
        }
    }

    /// <summary>
    /// Overlapping 3 × 3 windows (stride 2) whose maxima all lie in their 2 × 2 blocks (constant planes: ties go to the
    /// first tap, the block's top-left), so that the backward pass writes blocks; and a plane where they do not after
    /// one where they do (the rest of the chunk is scattered).
    /// </summary>
    [Theory]
    [InlineData(SimdLevel.Avx512)]
    [InlineData(SimdLevel.Avx2)]
    [InlineData(SimdLevel.Scalar)]
    public void MaxPoolBackwardWithMaximaInTheirBlocksMatchesReference(SimdLevel level)
    {
        using var forced = CpuTestSupport.Force(level);
        var rng = new Random(9);
        foreach (var (planes, h, w) in new[] { (3, 15, 17), (2, 7, 40), (1, 5, 5) })
        {
            int ho = Conv2dGeometry.OutSize(h, 3, 2, 0, 1), wo = Conv2dGeometry.OutSize(w, 3, 2, 0, 1);
            float[] x = Enumerable.Repeat(0.25f, planes * h * w).ToArray(), dy = CpuTestSupport.Random(rng, planes * ho * wo);
            if (planes > 1)
                for (int i = h * w; i < x.Length; i += 3) x[i] = (float)rng.NextDouble();
            float[] y = new float[planes * ho * wo], argmax = new float[y.Length], dx = Enumerable.Repeat(3f, x.Length).ToArray();
            Kernels.MaxPool2d(x, y, argmax, planes, h, w, 3, 2, 0);
            Kernels.MaxPool2dBackward(argmax, dy, dx, planes, h, w, ho, wo);
            float[] dxRef = new float[x.Length];
            Reference.MaxPool2dBackward<float>(x, dy, dxRef, planes, h, w, 3, 2, 0);
            Assert.Equal(dxRef, dx);
        }
    }

    [Theory]
    [InlineData(SimdLevel.Avx512)]
    [InlineData(SimdLevel.Avx2)]
    [InlineData(SimdLevel.Scalar)]
    public void LayoutKernelsMatchReference(SimdLevel level)
    {
        using var forced = CpuTestSupport.Force(level);
        var rng = new Random(5);
        foreach (var (shape, perm) in new[] { (new[] { 3, 5, 7, 9 }, new[] { 0, 2, 3, 1 }), (new[] { 2, 3, 17 }, new[] { 0, 2, 1 }), (new[] { 4, 3, 5, 2 }, new[] { 0, 1, 3, 2 }), (new[] { 2, 3, 4 }, new[] { 0, 1, 2 }) })
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            var x = CpuTestSupport.Random(rng, n);
            float[] y = new float[n], yRef = new float[n];
            Kernels.Permute(x, shape, perm, y);
            Reference.Permute<float>(x, shape, perm, yRef);
            Assert.Equal(yRef, y);
        }
        float[] a = CpuTestSupport.Random(rng, 3 * 2 * 7), b = CpuTestSupport.Random(rng, 3 * 5 * 7);
        float[] cat = new float[3 * 7 * 7], catRef = new float[cat.Length];
        Kernels.Concat(a, b, cat, 3, 2, 5, 7);
        Reference.Concat<float>(a, b, catRef, 3, 2, 5, 7);
        Assert.Equal(catRef, cat);
        float[] part = new float[3 * 3 * 7], partRef = new float[part.Length];
        Kernels.Slice(cat, part, 3, 7, 4, 3, 7);
        Reference.Slice<float>(cat, partRef, 3, 7, 4, 3, 7);
        Assert.Equal(partRef, part);
        Assert.Equal(b.AsSpan(2 * 7, 3 * 7).ToArray(), part.AsSpan(0, 3 * 7).ToArray()); // rows 4-6 of the first block are b's rows 2-4
        float[] back = Enumerable.Repeat(9f, cat.Length).ToArray(), backRef = new float[cat.Length];
        Kernels.SliceBackward(part, back, 3, 7, 4, 3, 7);
        Reference.SliceBackward<float>(part, backRef, 3, 7, 4, 3, 7);
        Assert.Equal(backRef, back);
        Assert.Throws<ArgumentException>(() => Kernels.Slice(cat, part, 3, 7, 5, 3, 7));
    }
}

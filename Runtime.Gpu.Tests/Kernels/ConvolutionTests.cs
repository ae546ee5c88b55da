using System;
using System.Collections.Generic;
using ModelGen.Cpu;
using Xunit;

namespace ModelGen.Gpu.Tests;

/// <summary>
/// The GPU convolution and pooling kernels against the CPU kernels of <see cref="Kernels"/> on odd shapes (sizes that
/// are no multiple of a tile or a group) and a few that span many tiles, groups and weight-gradient splits. Outputs
/// start as garbage on the device, so a kernel that accumulates instead of overwriting fails.
/// Tolerance of the convolutions: 2e-5 absolute + 1e-4 relative (the sums run in another order than the CPU's GEMM);
/// pooling is compared exactly where both sides take the same arithmetic path (max pooling and its argmax, the
/// max-pooling gradient, the average-pooling gradient), else to 1e-6 + 1e-5.
/// </summary>
public class ConvolutionTests
{
    const float Atol = 2e-5f, Rtol = 1e-4f;

    static GpuDevice Dev => GpuTestDevice.Device;

    /// <summary>Batch, channels, height, width, output channels, kernel, stride, padding, dilation, groups.</summary>
    public static IEnumerable<object[]> Geometries() => new[]
    {
        new object[] { 1, 1, 5, 7, 3, 3, 1, 1, 1, 1 },
        new object[] { 3, 3, 9, 9, 5, 5, 2, 2, 1, 1 },
        new object[] { 3, 5, 5, 7, 5, 3, 1, 0, 2, 5 },   // depthwise, dilated
        new object[] { 1, 3, 9, 9, 3, 5, 1, 2, 1, 3 },   // depthwise 5 × 5
        new object[] { 3, 6, 9, 9, 9, 3, 2, 1, 1, 3 },   // three groups of 2 → 3
        new object[] { 3, 5, 5, 7, 3, 1, 1, 0, 1, 1 },   // pointwise
        new object[] { 1, 3, 9, 9, 5, 1, 2, 1, 1, 1 },   // 1 × 1, stride 2, padding
        new object[] { 1, 3, 9, 9, 5, 3, 2, 2, 2, 1 },   // stride 2, dilation 2, padding 2
        new object[] { 3, 1, 9, 9, 5, 5, 1, 2, 2, 1 },
        new object[] { 2, 16, 11, 13, 40, 3, 1, 1, 1, 1 }, // many tiles, several reduction chunks
        new object[] { 5, 8, 15, 17, 12, 3, 1, 1, 1, 2 },  // a weight gradient split into ranges
    };

    static Conv2dGeometry Make(int n, int c, int h, int w, int o, int k, int s, int p, int d, int g) => new(n, c, h, w, o, k, s, p, d, g);

    static int XLength(Conv2dGeometry g) => g.Batch * g.Channels * g.Height * g.Width;
    static int YLength(Conv2dGeometry g) => g.Batch * g.OutChannels * g.OutHeight * g.OutWidth;
    static int WLength(Conv2dGeometry g) => g.OutChannels * g.GroupChannels * g.Kernel * g.Kernel;

    static void CheckForward(Conv2dGeometry g, bool bias, Activation act, int seed)
    {
        float[] x = GpuTestDevice.Random(XLength(g), seed), w = GpuTestDevice.Random(WLength(g), seed + 1);
        float[] b = bias ? GpuTestDevice.Random(g.OutChannels, seed + 2) : Array.Empty<float>();
        var expected = new float[YLength(g)];
        Kernels.Conv2dForward(x, w, b, expected, new float[Kernels.Conv2dWorkspace(g)], g, act);

        using var dx = GpuTestDevice.Upload(x);
        using var dw = GpuTestDevice.Upload(w);
        using var db = GpuTestDevice.Upload(b);
        using var dy = GpuTestDevice.Upload(GpuTestDevice.Random(YLength(g), seed + 3, 5f, 9f));
        GpuKernels.Conv2dForward(Dev, dx.View, dw.View, bias ? db.View : default, dy.View, default, g, act);
        GpuTestDevice.Close(expected, GpuTestDevice.Download(dy.View, expected.Length), Atol, Rtol, $"y of {g} bias={bias} {act}");
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Conv2dForward_matches_the_cpu(int n, int c, int h, int w, int o, int k, int s, int p, int d, int groups)
    {
        var g = Make(n, c, h, w, o, k, s, p, d, groups);
        // One activation per geometry, bias on every other one (all combinations: the test below).
        var act = (Activation)((n + c + h + w + o + k + s + p + d + groups) % 4);
        CheckForward(g, bias: (k + s) % 2 == 0, act, seed: 11 * c + h);
        CheckForward(g, bias: (k + s) % 2 != 0, Activation.None, seed: 13 * c + w);
    }

    [Fact]
    public void Conv2dForward_fuses_every_activation_with_and_without_bias()
    {
        var g = Make(3, 3, 9, 9, 5, 3, 2, 1, 1, 1);
        foreach (Activation act in new[] { Activation.None, Activation.Relu, Activation.Tanh, Activation.Sigmoid })
        {
            CheckForward(g, bias: false, act, seed: 100 + (int)act);
            CheckForward(g, bias: true, act, seed: 200 + (int)act);
        }
        // Depthwise with bias and activation too.
        CheckForward(Make(1, 5, 5, 7, 5, 3, 1, 1, 1, 5), bias: true, Activation.Tanh, seed: 300);
        CheckForward(Make(1, 5, 5, 7, 5, 3, 1, 1, 1, 5), bias: true, Activation.Sigmoid, seed: 301);
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Conv2dBackwardData_matches_the_cpu(int n, int c, int h, int w, int o, int k, int s, int p, int d, int groups)
    {
        var g = Make(n, c, h, w, o, k, s, p, d, groups);
        float[] dy = GpuTestDevice.Random(YLength(g), 21 + c), wt = GpuTestDevice.Random(WLength(g), 22 + o);
        var expected = new float[XLength(g)];
        Kernels.Conv2dBackwardData(dy, wt, expected, new float[Kernels.Conv2dWorkspace(g)], g);

        using var gdy = GpuTestDevice.Upload(dy);
        using var gw = GpuTestDevice.Upload(wt);
        using var gdx = GpuTestDevice.Upload(GpuTestDevice.Random(XLength(g), 23, 5f, 9f));
        GpuKernels.Conv2dBackwardData(Dev, gdy.View, gw.View, gdx.View, default, g);
        GpuTestDevice.Close(expected, GpuTestDevice.Download(gdx.View, expected.Length), Atol, Rtol, $"dx of {g}");
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Conv2dBackwardWeight_matches_the_cpu(int n, int c, int h, int w, int o, int k, int s, int p, int d, int groups)
    {
        var g = Make(n, c, h, w, o, k, s, p, d, groups);
        float[] x = GpuTestDevice.Random(XLength(g), 31 + c), dy = GpuTestDevice.Random(YLength(g), 32 + o);
        var expected = new float[WLength(g)];
        Kernels.Conv2dBackwardWeight(x, dy, expected, new float[Kernels.Conv2dWorkspace(g)], g);

        using var gx = GpuTestDevice.Upload(x);
        using var gdy = GpuTestDevice.Upload(dy);
        // Without a workspace (one range per tile) and with the CPU's (the reduction split into ranges).
        using var gdw = GpuTestDevice.Upload(GpuTestDevice.Random(WLength(g), 33, 5f, 9f));
        GpuKernels.Conv2dBackwardWeight(Dev, gx.View, gdy.View, gdw.View, default, g);
        float atol = Atol * MathF.Sqrt(g.Batch * g.OutHeight * g.OutWidth / 64f + 1f);
        GpuTestDevice.Close(expected, GpuTestDevice.Download(gdw.View, expected.Length), atol, Rtol, $"dw of {g} (no workspace)");

        using var ws = GpuTestDevice.Upload(GpuTestDevice.Random(Kernels.Conv2dWorkspace(g), 34, 5f, 9f));
        using var gdw2 = GpuTestDevice.Upload(GpuTestDevice.Random(WLength(g), 35, 5f, 9f));
        GpuKernels.Conv2dBackwardWeight(Dev, gx.View, gdy.View, gdw2.View, ws.View, g);
        GpuTestDevice.Close(expected, GpuTestDevice.Download(gdw2.View, expected.Length), atol, Rtol, $"dw of {g} (workspace)");
    }

    [Fact]
    public void Tile_plans_fit_every_group_size_and_the_tests_cover_slices_and_splits()
    {
        // The emulator runs groups of at most 16 threads; a GPU gets 256: every plan must fit the shared tiles.
        foreach (int threads in new[] { 1, 2, 4, 16, 32, 64, 128, 256 })
        foreach (int m in new[] { 1, 3, 35, 286, 12544, 1 << 20 })
        foreach (int n in new[] { 1, 3, 16, 40, 64, 288, 4096 })
        foreach (int depth in new[] { 0, 1, 9, 144, 1275, 1 << 20 })
        foreach (int mode in new[] { ConvolutionKernels.Forward, ConvolutionKernels.BackwardData, ConvolutionKernels.BackwardWeight })
        {
            var a = ConvolutionKernels.Plan(threads, mode, Make(1, 1, 1, 1, 1, 1, 1, 0, 1, 1), m, n, depth, mode == ConvolutionKernels.BackwardWeight ? 64 : 1);
            Assert.True(a.Tm * a.Tn * a.Kz <= threads);
            Assert.True((long)a.TilesM * (4 * a.Tm) >= m && (long)a.TilesN * (4 * a.Tn) >= n);
            Assert.True((long)a.Splits * a.KSplit >= depth && a.Splits <= ConvolutionKernels.MaxSplits);
        }
        // On the test device, the shapes above reach slices of the reduction and a split weight gradient.
        int t = Dev.Kernels(a => new ConvolutionKernels(a)).MaxThreads;
        var g = Make(5, 8, 15, 17, 12, 3, 1, 1, 1, 2);
        var w = ConvolutionKernels.Plan(t, ConvolutionKernels.BackwardWeight, g, g.GroupOutChannels, g.GroupChannels * 9, g.Batch * g.OutHeight * g.OutWidth,
            Kernels.Conv2dWorkspace(g) / WLength(g));
        Assert.True(w.Splits > 1);
        g = Make(1, 1, 5, 7, 3, 3, 1, 1, 1, 1);
        Assert.True(ConvolutionKernels.Plan(t, ConvolutionKernels.BackwardWeight, g, 3, 9, 35, 1).Kz > 1);
    }

    [Fact]
    public void Conv2dBackwardWeight_of_an_empty_batch_is_zero()
    {
        var g = Make(0, 3, 5, 7, 5, 3, 1, 1, 1, 1);
        using var gdw = GpuTestDevice.Upload(GpuTestDevice.Random(WLength(g), 36, 5f, 9f));
        GpuKernels.Conv2dBackwardWeight(Dev, default, default, gdw.View, default, g);
        Assert.All(GpuTestDevice.Download(gdw.View, WLength(g)), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Convolutions_reject_short_buffers_and_bad_geometry()
    {
        var g = Make(1, 3, 5, 7, 5, 3, 1, 1, 1, 1);
        using var x = GpuTestDevice.Zeros(XLength(g));
        using var w = GpuTestDevice.Zeros(WLength(g) - 1);
        using var y = GpuTestDevice.Zeros(YLength(g));
        Assert.Throws<ArgumentException>(() => GpuKernels.Conv2dForward(Dev, x.View, w.View, default, y.View, default, g));
        Assert.Throws<ArgumentException>(() => GpuKernels.Conv2dBackwardData(Dev, y.View, w.View, x.View, default, g));
        Assert.Throws<ArgumentException>(() => GpuKernels.Conv2dBackwardWeight(Dev, x.View, y.View, w.View, default, g));
        Assert.Throws<ArgumentException>(() => GpuKernels.Conv2dForward(Dev, x.View, y.View, default, y.View, default, g with { Groups = 2 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => GpuKernels.Conv2dForward(Dev, x.View, y.View, default, y.View, default,
            g with { OutChannels = 1 }, (Activation)7));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 3, 35)]
    [InlineData(3, 5, 35)]
    [InlineData(3, 3, 81)]
    [InlineData(4, 7, 300)]
    public void ChannelSum_matches_the_cpu(int batch, int channels, int size)
    {
        float[] dy = GpuTestDevice.Random(batch * channels * size, 41 + size);
        var expected = new float[channels];
        Kernels.ChannelSum(dy, expected, batch, channels, size);
        using var gdy = GpuTestDevice.Upload(dy);
        using var gdb = GpuTestDevice.Upload(GpuTestDevice.Random(channels, 42, 5f, 9f));
        GpuKernels.ChannelSum(Dev, gdy.View, gdb.View, batch, channels, size);
        GpuTestDevice.Close(expected, GpuTestDevice.Download(gdb.View, channels), 1e-5f * MathF.Sqrt(batch * size), 1e-5f, "db");
    }

    /// <summary>Planes, height, width, kernel, stride, padding.</summary>
    public static IEnumerable<object[]> Pools() => new[]
    {
        new object[] { 1, 5, 7, 2, 2, 0 },
        new object[] { 3, 9, 9, 3, 1, 1 },
        new object[] { 5, 5, 7, 3, 2, 1 },
        new object[] { 2, 9, 9, 2, 1, 0 },
        new object[] { 3, 7, 5, 2, 2, 1 },
        new object[] { 2, 5, 5, 1, 2, 1 },    // windows entirely in the padding
        new object[] { 3, 8, 10, 2, 2, 0 },   // the CPU's 2 × 2 fast paths
        new object[] { 6, 33, 31, 3, 2, 1 },  // many outputs per plane
    };

    /// <summary>Inputs with many ties (a few levels) or distinct values.</summary>
    static float[] PoolInput(int length, int seed, bool ties)
    {
        float[] x = GpuTestDevice.Random(length, seed);
        if (ties)
            for (int i = 0; i < x.Length; i++) x[i] = MathF.Floor(x[i] * 2f) / 2f;
        return x;
    }

    [Theory]
    [MemberData(nameof(Pools))]
    public void MaxPool2d_and_its_gradient_match_the_cpu(int planes, int h, int w, int k, int s, int p)
    {
        int ho = Conv2dGeometry.OutSize(h, k, s, p, 1), wo = Conv2dGeometry.OutSize(w, k, s, p, 1);
        foreach (bool ties in new[] { false, true })
        {
            float[] x = PoolInput(planes * h * w, 51 + h + k, ties);
            var y = new float[planes * ho * wo];
            var argmax = new float[y.Length];
            Kernels.MaxPool2d(x, y, argmax, planes, h, w, k, s, p);
            float[] dy = GpuTestDevice.Random(y.Length, 52);
            var dx = new float[x.Length];
            Kernels.MaxPool2dBackward(argmax, dy, dx, planes, h, w, ho, wo);

            using var gx = GpuTestDevice.Upload(x);
            using var gy = GpuTestDevice.Upload(GpuTestDevice.Random(y.Length, 53, 5f, 9f));
            using var ga = GpuTestDevice.Upload(GpuTestDevice.Random(y.Length, 54, 5f, 9f));
            GpuKernels.MaxPool2d(Dev, gx.View, gy.View, ga.View, planes, h, w, k, s, p);
            Assert.Equal(y, GpuTestDevice.Download(gy.View, y.Length));
            Assert.Equal(argmax, GpuTestDevice.Download(ga.View, y.Length));

            // The gradient from the GPU's own argmax.
            using var gdy = GpuTestDevice.Upload(dy);
            using var gdx = GpuTestDevice.Upload(GpuTestDevice.Random(x.Length, 55, 5f, 9f));
            GpuKernels.MaxPool2dBackward(Dev, ga.View, gdy.View, gdx.View, planes, h, w, ho, wo);
            Assert.Equal(dx, GpuTestDevice.Download(gdx.View, dx.Length));
        }
    }

    [Theory]
    [MemberData(nameof(Pools))]
    public void AvgPool2d_and_its_gradient_match_the_cpu(int planes, int h, int w, int k, int s, int p)
    {
        int ho = Conv2dGeometry.OutSize(h, k, s, p, 1), wo = Conv2dGeometry.OutSize(w, k, s, p, 1);
        float[] x = GpuTestDevice.Random(planes * h * w, 61 + w);
        var y = new float[planes * ho * wo];
        Kernels.AvgPool2d(x, y, planes, h, w, k, s, p);
        float[] dy = GpuTestDevice.Random(y.Length, 62);
        var dx = new float[x.Length];
        Kernels.AvgPool2dBackward(dy, dx, planes, h, w, k, s, p);

        using var gx = GpuTestDevice.Upload(x);
        using var gy = GpuTestDevice.Upload(GpuTestDevice.Random(y.Length, 63, 5f, 9f));
        GpuKernels.AvgPool2d(Dev, gx.View, gy.View, planes, h, w, k, s, p);
        GpuTestDevice.Close(y, GpuTestDevice.Download(gy.View, y.Length), 1e-6f, 1e-5f, "avg y");

        using var gdy = GpuTestDevice.Upload(dy);
        using var gdx = GpuTestDevice.Upload(GpuTestDevice.Random(x.Length, 64, 5f, 9f));
        GpuKernels.AvgPool2dBackward(Dev, gdy.View, gdx.View, planes, h, w, k, s, p);
        GpuTestDevice.Close(dx, GpuTestDevice.Download(gdx.View, dx.Length), 1e-6f, 1e-5f, "avg dx");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 35)]
    [InlineData(5, 81)]
    [InlineData(7, 300)]
    public void GlobalAvgPool_and_its_gradient_match_the_cpu(int planes, int size)
    {
        float[] x = GpuTestDevice.Random(planes * size, 71 + size);
        var y = new float[planes];
        Kernels.GlobalAvgPool(x, y, planes, size);
        float[] dy = GpuTestDevice.Random(planes, 72);
        var dx = new float[x.Length];
        Kernels.GlobalAvgPoolBackward(dy, dx, planes, size);

        using var gx = GpuTestDevice.Upload(x);
        using var gy = GpuTestDevice.Upload(GpuTestDevice.Random(planes, 73, 5f, 9f));
        GpuKernels.GlobalAvgPool(Dev, gx.View, gy.View, planes, size);
        GpuTestDevice.Close(y, GpuTestDevice.Download(gy.View, planes), 1e-6f, 1e-5f, "gap y");

        using var gdy = GpuTestDevice.Upload(dy);
        using var gdx = GpuTestDevice.Upload(GpuTestDevice.Random(x.Length, 74, 5f, 9f));
        GpuKernels.GlobalAvgPoolBackward(Dev, gdy.View, gdx.View, planes, size);
        Assert.Equal(dx, GpuTestDevice.Download(gdx.View, dx.Length));
    }

    [Fact]
    public void MaxPool2dBackward_skips_argmax_positions_outside_their_plane_and_writes_nothing_past_dx()
    {
        // The CPU throws for these; a kernel cannot, so it must not write them: dx is the head of a longer buffer whose
        // tail (a sentinel) a position ≥ H·W of the last plane would reach, and the plane before it must not get its
        // neighbour's gradients either.
        const int Planes = 3, H = 4, W = 5, Ho = 2, Wo = 2, Size = H * W, Out = Ho * Wo;
        float[] argmax = { 0, 3, 12, 19, Size, 7, -1, 2 * Size + 1, 1, Size + 3, 1e9f, 18 };
        float[] dy = GpuTestDevice.Random(Planes * Out, 91);
        var want = new float[Planes * Size + 16];
        for (int p = 0; p < Planes; p++)
        for (int o = 0; o < Out; o++)
        {
            int at = (int)argmax[p * Out + o];
            if (at >= 0 && at < Size) want[p * Size + at] += dy[p * Out + o];
        }
        for (int i = Planes * Size; i < want.Length; i++) want[i] = -7f;
        float[] start = GpuTestDevice.Random(want.Length, 92);
        for (int i = Planes * Size; i < start.Length; i++) start[i] = -7f;
        using var ga = GpuTestDevice.Upload(argmax);
        using var gdy = GpuTestDevice.Upload(dy);
        using var gdx = GpuTestDevice.Upload(start);
        GpuKernels.MaxPool2dBackward(Dev, ga.View, gdy.View, gdx.View.SubView(0, Planes * Size), Planes, H, W, Ho, Wo);
        Assert.Equal(want, GpuTestDevice.Download(gdx.View, want.Length));
    }

    [Fact]
    public void Pooling_rejects_short_buffers_and_bad_geometry()
    {
        using var x = GpuTestDevice.Zeros(2 * 5 * 7);
        using var y = GpuTestDevice.Zeros(2 * 2 * 3 - 1);
        Assert.Throws<ArgumentException>(() => GpuKernels.MaxPool2d(Dev, x.View, y.View, y.View, 2, 5, 7, 2, 2, 0));
        Assert.Throws<ArgumentException>(() => GpuKernels.MaxPool2dBackward(Dev, y.View, y.View, x.View, 2, 5, 7, 2, 3));
        Assert.Throws<ArgumentException>(() => GpuKernels.AvgPool2d(Dev, x.View, y.View, 2, 5, 7, 2, 2, 0));
        Assert.Throws<ArgumentException>(() => GpuKernels.AvgPool2dBackward(Dev, y.View, x.View, 2, 5, 7, 9, 1, 0));
        Assert.Throws<ArgumentException>(() => GpuKernels.GlobalAvgPool(Dev, x.View, y.View, 2, 36));
        Assert.Throws<ArgumentException>(() => GpuKernels.GlobalAvgPoolBackward(Dev, y.View, x.View, 12, 35));
        Assert.Throws<ArgumentException>(() => GpuKernels.ChannelSum(Dev, x.View, y.View, 2, 12, 35));
    }
}

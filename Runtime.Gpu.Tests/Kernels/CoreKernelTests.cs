using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using CpuK = ModelGen.Cpu.Kernels;
using static ModelGen.Gpu.Tests.GpuTestDevice;

namespace ModelGen.Gpu.Tests;

/// <summary>
/// The core GPU kernels (softmax, reductions, broadcasting, Mean/Copy/Fill/CountCorrect/ScalarAdd, layout) against their
/// CPU twins on odd shapes. Shapes are chosen to take every launch path: a group per line (inner = 1, or the innermost
/// dimension summed), tiles of lines (inner > 1; tiles partly past the end), lines longer than a group, two-pass sums.
/// Tolerances: elementwise results 1e-6 + 1e-5·|expected|; sums 1e-6·Σ|x| (float trees against the CPU's double).
/// </summary>
public class CoreKernelTests
{
    static GpuDevice Dev => GpuTestDevice.Device;

    static float[] Gpu(int length, Action<ArrayView<float>> run)
    {
        using var y = Zeros(length);
        run(y.View);
        return Download(y.View, length);
    }

    static void CloseSum(float expected, float actual, float[] x, string what) =>
        Close(new[] { expected }, new[] { actual }, atol: 1e-6f * (1f + x.Sum(MathF.Abs)), rtol: 1e-5f, what: what);

    public static TheoryData<int, int, int> Lines => new()
    {
        { 1, 1, 1 }, { 1, 3, 1 }, { 3, 17, 1 }, { 17, 10, 1 }, { 257, 33, 1 }, { 5, 300, 1 },   // rows: a group per row
        { 3, 17, 5 }, { 2, 33, 3 }, { 1, 1, 7 }, { 4, 5, 300 }, { 3, 7, 349 },                   // inner > 1: tiles of lines
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void Softmax_and_log_softmax_forward_and_backward_match_the_cpu(int outer, int axis, int inner)
    {
        int n = outer * axis * inner;
        var x = Random(n, 1 + n, -4f, 4f);
        var dy = Random(n, 2 + n);
        using var gx = Upload(x);
        using var gdy = Upload(dy);

        var y = new float[n];
        CpuK.Softmax(x, y, outer, axis, inner);
        Close(y, Gpu(n, v => GpuKernels.Softmax(Dev, gx.View, v, outer, axis, inner)), 1e-6f, 1e-5f, "softmax");
        var dx = new float[n];
        CpuK.SoftmaxBackward(y, dy, dx, outer, axis, inner);
        using (var gy = Upload(y))
            Close(dx, Gpu(n, v => GpuKernels.SoftmaxBackward(Dev, gy.View, gdy.View, v, outer, axis, inner)), 1e-6f, 1e-5f, "softmax backward");

        var ly = new float[n];
        CpuK.LogSoftmax(x, ly, outer, axis, inner);
        Close(ly, Gpu(n, v => GpuKernels.LogSoftmax(Dev, gx.View, v, outer, axis, inner)), 1e-5f, 1e-5f, "log softmax");
        CpuK.LogSoftmaxBackward(ly, dy, dx, outer, axis, inner);
        using (var gly = Upload(ly))
            Close(dx, Gpu(n, v => GpuKernels.LogSoftmaxBackward(Dev, gly.View, gdy.View, v, outer, axis, inner)), 1e-5f, 1e-5f, "log softmax backward");
    }

    [Fact]
    public void Softmax_may_write_over_its_input()
    {
        var x = Random(3 * 40, 5, -3f, 3f);
        var y = new float[x.Length];
        CpuK.Softmax(x, y, 3, 40, 1);
        using var g = Upload(x);
        GpuKernels.Softmax(Dev, g.View, g.View, 3, 40, 1);
        Close(y, Download(g.View, x.Length), 1e-6f, 1e-5f, "in place");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(257)]
    [InlineData(5000)]
    [InlineData(100_003)] // grid-strided over the most groups the device gets, then a second pass
    public void Sum_and_mean_match_the_cpu(int n)
    {
        var x = Random(n, 10 + n);
        using var gx = Upload(x);
        CloseSum(CpuK.Sum(x), Gpu(1, r => GpuKernels.Sum(Dev, gx.View.SubView(0, n), r))[0], x, "sum");
        if (n > 0)
            CloseSum((float)(CpuK.Sum(x) / (double)n), Gpu(1, r => GpuKernels.Mean(Dev, gx.View.SubView(0, n), r))[0], x, "mean");
        else
            Assert.Throws<ArgumentException>(() => GpuKernels.Mean(Dev, gx.View.SubView(0, 0), gx.View));
    }

    [Theory]
    [MemberData(nameof(Lines))]
    public void ReduceSum_and_BroadcastAxis_match_the_cpu(int outer, int axis, int inner)
    {
        int n = outer * axis * inner;
        var x = Random(n, 20 + n);
        using var gx = Upload(x);
        var y = new float[outer * inner];
        CpuK.ReduceSum(x, outer, axis, inner, y, 0.5f);
        Close(y, Gpu(y.Length, v => GpuKernels.ReduceSum(Dev, gx.View, outer, axis, inner, v, 0.5f)), 1e-5f, 1e-5f, "reduce sum");

        var dy = Random(outer * inner, 21 + n);
        using var gdy = Upload(dy);
        var dx = new float[n];
        CpuK.BroadcastAxis(dy, outer, axis, inner, dx, -1.5f);
        Close(dx, Gpu(n, v => GpuKernels.BroadcastAxis(Dev, gdy.View, outer, axis, inner, v, -1.5f)), 0f, 0f, "broadcast axis");
    }

    public static TheoryData<int[], int[]> Broadcasts => new()
    {
        { new int[0], new[] { 3, 4 } },
        { new[] { 1 }, new[] { 17, 33 } },
        { new[] { 33 }, new[] { 17, 33 } },                        // a bias: the outer dimension summed, tiles of outputs
        { new[] { 17, 1 }, new[] { 17, 33 } },                     // the innermost summed: a group per output
        { new[] { 3, 1, 5 }, new[] { 2, 3, 4, 5 } },
        { new[] { 1, 3, 1, 1 }, new[] { 2, 3, 5, 7 } },            // per-channel
        { new[] { 1200 }, new[] { 3, 1200 } },
        { new[] { 1100, 1 }, new[] { 1100, 3 } },                  // the innermost summed but short: tiles
        { new[] { 3, 1 }, new[] { 3, 40 } },                       // the innermost summed and long: a group per output
        { new[] { 2, 1, 3, 1, 2, 1, 3, 1, 2 }, new[] { 2, 2, 3, 2, 2, 2, 3, 2, 2 } }, // rank 9, alternating: nothing merges
        { new[] { 1, 1, 3, 1, 1, 1, 1, 1, 2 }, new[] { 2, 2, 3, 2, 2, 2, 1, 2, 2 } }, // rank 9 that merges to 5
        { new[] { 5, 1, 1 }, new[] { 5, 1, 1 } },
    };

    [Theory]
    [MemberData(nameof(Broadcasts))]
    public void BroadcastTo_and_ReduceTo_match_the_cpu(int[] small, int[] big)
    {
        int ns = small.Aggregate(1, (a, b) => a * b), nb = big.Aggregate(1, (a, b) => a * b);
        var x = Random(ns, ns + nb);
        var g = Random(nb, 3 * nb);
        using var gx = Upload(x);
        using var gg = Upload(g);
        bool tooMany = big.Length == 9 && small[1] == 1 && small[0] == 2;
        if (tooMany)
        {
            // 9 alternating dimensions: a gather cannot index them; a reduction splits them into 5 kept and 4 summed.
            Assert.Throws<ArgumentException>(() => GpuKernels.BroadcastTo(Dev, gx.View, small, gg.View, big));
        }
        else
        {
            var y = new float[nb];
            CpuK.BroadcastTo(x, small, y, big);
            Close(y, Gpu(nb, v => GpuKernels.BroadcastTo(Dev, gx.View, small, v, big)), 0f, 0f, "broadcast");
        }

        var r = new float[ns];
        CpuK.ReduceTo(g, big, r, small);
        using var gr = Upload(Enumerable.Repeat(7f, ns).ToArray()); // overwritten
        GpuKernels.ReduceTo(Dev, gg.View, big, gr.View, small);
        Close(r, Download(gr.View, ns), 1e-5f, 1e-5f, "reduce");
    }

    [Fact]
    public void BroadcastTo_and_ReduceTo_reject_shapes_that_do_not_broadcast()
    {
        using var b = Zeros(64);
        Assert.Throws<ArgumentException>(() => GpuKernels.BroadcastTo(Dev, b.View, new[] { 3 }, b.View, new[] { 2, 4 }));
        Assert.Throws<ArgumentException>(() => GpuKernels.ReduceTo(Dev, b.View, new[] { 2, 4 }, b.View, new[] { 2, 2, 4 }));
        Assert.Throws<ArgumentException>(() => GpuKernels.BroadcastTo(Dev, b.View.SubView(0, 2), new[] { 3 }, b.View, new[] { 2, 3 }));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 17)]
    [InlineData(257, 10)]
    [InlineData(17, 33)]
    [InlineData(5, 1100)]
    [InlineData(0, 3)]
    public void SumRows_matches_the_cpu_overwriting_and_accumulating(int rows, int cols)
    {
        var x = Random(rows * cols, rows + cols);
        var y0 = Random(cols, 7);
        using var gx = Upload(x);
        foreach (bool accumulate in new[] { false, true })
        {
            var y = (float[])y0.Clone();
            CpuK.SumRows(x, rows, cols, y, accumulate);
            using var gy = Upload(y0);
            GpuKernels.SumRows(Dev, gx.View, rows, cols, gy.View, accumulate);
            Close(y, Download(gy.View, cols), 1e-5f, 1e-5f, accumulate ? "accumulate" : "overwrite");
        }
    }

    [Fact]
    public void Copy_Fill_and_ScalarAdd_match_plain_loops()
    {
        var x = Random(1037, 3);
        using var gx = Upload(x);
        Close(x, Gpu(1037, v => GpuKernels.Copy(Dev, gx.View, v)), 0f, 0f, "copy");
        var partial = Gpu(1040, v => GpuKernels.Copy(Dev, gx.View.SubView(0, 17), v));
        Close(x.AsSpan(0, 17), partial.AsSpan(0, 17), 0f, 0f, "copy 17");
        Assert.All(partial.Skip(17), v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentException>(() => GpuKernels.Copy(Dev, gx.View, gx.View.SubView(0, 3)));

        Assert.All(Gpu(300, v => GpuKernels.Fill(Dev, v, 1.25f, -2f)), v => Assert.Equal(-2.5f, v));
        using var s = Upload(new[] { 0.75f });
        Assert.All(Gpu(33, v => GpuKernels.Fill(Dev, v, new DeviceScalar(s.View, 2f), 3f)), v => Assert.Equal(0.75f * 2f * 3f, v));

        using var acc = Upload(new[] { 1.5f });
        float expected = 1.5f;
        for (int i = 0; i < 3; i++)
        {
            GpuKernels.ScalarAdd(Dev, gx.View.SubView(i, 1), acc.View, 0.5f);
            expected += x[i] * 0.5f;
        }
        Assert.Equal(expected, Download(acc.View, 1)[0]);
    }

    /// <summary>The CPU's arg-max: the first element strictly greater than the best so far (ModelBase.ArgMax).</summary>
    static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++)
            if (row[i] > row[best]) best = i;
        return best;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    [InlineData(17, 10)]
    [InlineData(257, 33)]
    [InlineData(300, 1)]
    [InlineData(17, 100)]   // more classes than a thread scans: a group per row
    [InlineData(3, 257)]
    public void CountCorrect_matches_a_plain_loop_with_ties_and_NaN(int rows, int classes)
    {
        var rng = new Random(rows * 31 + classes);
        // Few distinct values so that ties are common; some NaN, also in column 0; some -inf rows.
        var outputs = new float[rows * classes];
        for (int i = 0; i < outputs.Length; i++)
        {
            int k = rng.Next(12);
            outputs[i] = k == 0 ? float.NaN : k == 1 ? float.NegativeInfinity : rng.Next(4);
        }
        if (rows > 2) outputs.AsSpan(2 * classes, classes).Fill(float.NegativeInfinity);
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            int a = ArgMax(outputs.AsSpan(r * classes, classes));
            labels[r] = rng.Next(3) switch { 0 => a, 1 => rng.Next(classes), _ => rng.Next(2) == 0 ? -1 : classes };
            if (r % 5 == 0) labels[r] = a;
        }
        int expected = 0;
        for (int r = 0; r < rows; r++)
            if (ArgMax(outputs.AsSpan(r * classes, classes)) == labels[r]) expected++;
        Assert.True(expected > 0);

        using var go = Upload(outputs);
        using var gl = Upload(labels);
        using var counter = Upload(new[] { 5 });
        GpuKernels.CountCorrect(Dev, go.View, gl.View, rows, classes, counter.View);
        GpuKernels.CountCorrect(Dev, go.View, gl.View, rows, classes, counter.View);
        Dev.Synchronize();
        var got = new int[1];
        counter.View.SubView(0, 1).CopyToCPU(Dev.Stream, got);
        Dev.Synchronize();
        Assert.Equal(5 + 2 * expected, got[0]);
    }

    // ---------------------------------------------------------------- layout

    public static TheoryData<int[], int[]> Permutations => new()
    {
        { new[] { 7 }, new[] { 0 } },
        { new[] { 3, 17 }, new[] { 1, 0 } },
        { new[] { 2, 3, 5 }, new[] { 0, 1, 2 } },
        { new[] { 2, 3, 5 }, new[] { 2, 0, 1 } },
        { new[] { 3, 17, 4, 5 }, new[] { 0, 2, 1, 3 } },             // heads: (B, T, H, D) → (B, H, T, D)
        { new[] { 2, 1, 3, 33 }, new[] { 3, 1, 0, 2 } },
        { new[] { 2, 3, 1, 2, 3, 2, 1, 2 }, new[] { 7, 5, 3, 1, 0, 2, 4, 6 } },
    };

    [Theory]
    [MemberData(nameof(Permutations))]
    public void Permute_matches_the_cpu(int[] shape, int[] perm)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var x = Random(n, n + perm[0]);
        var y = new float[n];
        CpuK.Permute(x, shape, perm, y);
        using var gx = Upload(x);
        Close(y, Gpu(n, v => GpuKernels.Permute(Dev, gx.View, shape, perm, v)), 0f, 0f, "permute");
    }

    [Fact]
    public void Permute_rejects_a_repeated_axis()
    {
        using var b = Zeros(6);
        Assert.Throws<ArgumentException>(() => GpuKernels.Permute(Dev, b.View, new[] { 2, 3 }, new[] { 1, 1 }, b.View));
        Assert.Throws<ArgumentException>(() => GpuKernels.Permute(Dev, b.View, new[] { 2, 3 }, new[] { 0 }, b.View));
    }

    [Theory]
    [InlineData(1, 1, 1, 1)]
    [InlineData(3, 2, 5, 1)]
    [InlineData(2, 3, 1, 17)]
    [InlineData(17, 0, 4, 3)]
    [InlineData(5, 33, 10, 7)]
    public void Concat_matches_the_cpu(int outer, int na, int nb, int inner)
    {
        var a = Random(outer * na * inner, 1);
        var b = Random(outer * nb * inner, 2);
        int n = outer * (na + nb) * inner;
        var y = new float[n];
        CpuK.Concat(a, b, y, outer, na, nb, inner);
        using var ga = Upload(a);
        using var gb = Upload(b);
        Close(y, Gpu(n, v => GpuKernels.Concat(Dev, a.Length == 0 ? default : ga.View, gb.View, v, outer, na, nb, inner)), 0f, 0f, "concat");
    }

    [Theory]
    [InlineData(1, 1, 0, 1, 1)]
    [InlineData(3, 10, 2, 5, 1)]
    [InlineData(2, 17, 16, 1, 3)]
    [InlineData(5, 33, 0, 33, 7)]
    [InlineData(17, 9, 4, 0, 2)]
    public void Slice_and_its_backward_match_the_cpu(int outer, int axis, int start, int length, int inner)
    {
        var x = Random(outer * axis * inner, 3);
        var y = new float[outer * length * inner];
        CpuK.Slice(x, y, outer, axis, start, length, inner);
        using var gx = Upload(x);
        Close(y, Gpu(y.Length, v => GpuKernels.Slice(Dev, gx.View, v, outer, axis, start, length, inner)), 0f, 0f, "slice");

        var dy = Random(y.Length, 4);
        var dx = Random(x.Length, 5); // overwritten
        CpuK.SliceBackward(dy, dx, outer, axis, start, length, inner);
        using var gdy = Upload(dy);
        using var gdx = Upload(Random(x.Length, 5));
        GpuKernels.SliceBackward(Dev, gdy.View, gdx.View, outer, axis, start, length, inner);
        Close(dx, Download(gdx.View, dx.Length), 0f, 0f, "slice backward");
        Assert.Throws<ArgumentException>(() => GpuKernels.Slice(Dev, gx.View, gx.View, outer, axis, start + 1, axis, inner));
        // A window whose end overflows an int (start + length wrapped negative and passed the old check).
        Assert.Throws<ArgumentException>(() => GpuKernels.Slice(Dev, gx.View, gdy.View, outer, axis, int.MaxValue, 1, inner));
        Assert.Throws<ArgumentException>(() => GpuKernels.SliceBackward(Dev, gdy.View, gdx.View, outer, axis, int.MaxValue, 1, inner));
    }
}

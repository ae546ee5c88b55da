using System;
using System.Linq;
using ModelGen.Runtime.Tests.Eager;
using Xunit;

namespace ModelGen.Runtime.Tests.Convolution;

/// <summary>
/// The reference kernels of the Convolution family: central-difference gradient checks in double (scaled error
/// |analytic − numeric| / (1 + |numeric|) ≤ 1e-6), a hand-computed convolution, and the eager float ops against
/// the double reference (relative 1e-5).
/// </summary>
public class ConvolutionReferenceTests
{
    static double[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
    }

    public static TheoryData<string, Conv2dGeometry> Convolutions => new()
    {
        { "stride 2, padding 1", new Conv2dGeometry(2, 2, 5, 6, 3, 3, Stride: 2, Padding: 1) },
        { "dilation 2, padding 2", new Conv2dGeometry(1, 2, 7, 6, 2, 3, Padding: 2, Dilation: 2) },
        { "groups 2", new Conv2dGeometry(2, 4, 5, 5, 6, 3, Padding: 1, Groups: 2) },
        { "depthwise, stride 2", new Conv2dGeometry(2, 3, 6, 5, 3, 3, Stride: 2, Padding: 1, Groups: 3) },
        { "pointwise", new Conv2dGeometry(2, 3, 3, 4, 2, 1) },
        { "2x2 window, stride 3, no padding", new Conv2dGeometry(1, 2, 7, 8, 3, 2, Stride: 3) },
    };

    [Theory]
    [MemberData(nameof(Convolutions))]
    public void Conv2dGradientsMatchCentralDifferences(string name, Conv2dGeometry g)
    {
        int xn = g.Batch * g.Channels * g.Height * g.Width, wn = g.OutChannels * g.GroupChannels * g.Kernel * g.Kernel;
        int yn = g.Batch * g.OutChannels * g.OutHeight * g.OutWidth;
        var inputs = new[] { Random(xn, 1), Random(wn, 2), Random(g.OutChannels, 3) };
        double worst = GradCheck.Check(inputs,
            v => { var y = new double[yn]; Reference.Conv2d<double>(v[0], v[1], v[2], y, g); return y; },
            (v, dy) =>
            {
                double[] dx = new double[xn], dw = new double[wn], db = new double[g.OutChannels];
                Reference.Conv2dBackward<double>(v[0], v[1], dy, dx, dw, db, g);
                return new double[]?[] { dx, dw, db };
            });
        Assert.True(worst <= 1e-6, name);
    }

    [Fact]
    public void Conv2dStride2Padding1ByHand()
    {
        // x (1, 1, 3, 3) = 1..9, w (1, 1, 3, 3), b = 0.5. Ho = Wo = (3 + 2 - 3)/2 + 1 = 2. Padded by one ring of zeros:
        //   0 0 0 0 0        w =  1 0 -1
        //   0 1 2 3 0             0 1  0
        //   0 4 5 6 0             2 0  1
        //   0 7 8 9 0
        //   0 0 0 0 0
        // y[0,0]: window rows 0-2, cols 0-2 = [0 0 0; 0 1 2; 0 4 5]: 1·1 + 1·5 = 6
        // y[0,1]: window rows 0-2, cols 2-4 = [0 0 0; 2 3 0; 5 6 0]: 1·3 + 2·5 = 13
        // y[1,0]: window rows 2-4, cols 0-2 = [0 4 5; 0 7 8; 0 0 0]: −1·5 + 1·7 = 2
        // y[1,1]: window rows 2-4, cols 2-4 = [5 6 0; 8 9 0; 0 0 0]: 1·5 + 1·9 = 14
        double[] x = Enumerable.Range(1, 9).Select(i => (double)i).ToArray();
        double[] w = { 1, 0, -1, 0, 1, 0, 2, 0, 1 };
        var g = new Conv2dGeometry(1, 1, 3, 3, 1, 3, Stride: 2, Padding: 1);
        Assert.Equal(2, g.OutHeight);
        Assert.Equal(2, g.OutWidth);
        var y = new double[4];
        Reference.Conv2d<double>(x, w, new[] { 0.5 }, y, g);
        Assert.Equal(new[] { 6.5, 13.5, 2.5, 14.5 }, y);

        // The float kernel (im2col + GEMM) gives the same numbers exactly (small integers).
        var yf = new float[4];
        ModelGen.Cpu.Kernels.Conv2dForward(x.Select(v => (float)v).ToArray(), w.Select(v => (float)v).ToArray(), new[] { 0.5f }, yf,
            new float[ModelGen.Cpu.Kernels.Conv2dWorkspace(g)], g);
        Assert.Equal(new[] { 6.5f, 13.5f, 2.5f, 14.5f }, yf);

        // Backward with dy = 1: db = 4; dw[u, v] = sum of the four windows' taps at (u, v); e.g. dw[1, 1] = 1 + 3 + 7 + 9 = 20.
        double[] dx = new double[9], dw = new double[9], db = new double[1];
        Reference.Conv2dBackward<double>(x, w, new double[] { 1, 1, 1, 1 }, dx, dw, db, g);
        Assert.Equal(4, db[0]);
        Assert.Equal(20, dw[4]);
        Assert.Equal(5, dw[0]); // only y[1,1]'s window has a tap at (0, 0): x[1][1] = 5
    }

    [Theory]
    [InlineData(3, 5, 6, 3, 2, 1)]
    [InlineData(2, 7, 5, 2, 2, 0)]
    [InlineData(2, 4, 4, 3, 1, 1)]
    public void PoolingGradientsMatchCentralDifferences(int planes, int h, int w, int k, int s, int p)
    {
        int ho = Conv2dGeometry.OutSize(h, k, s, p, 1), wo = Conv2dGeometry.OutSize(w, k, s, p, 1);
        // Distinct values spaced well beyond the finite-difference step, so that no maximum changes place.
        var rng = new Random(planes * 100 + h);
        var x = Enumerable.Range(0, planes * h * w).Select(i => i * 0.01).OrderBy(_ => rng.Next()).ToArray();
        GradCheck.Check(new[] { x },
            v => { var y = new double[planes * ho * wo]; Reference.MaxPool2d<double>(v[0], y, planes, h, w, k, s, p); return y; },
            (v, dy) => { var dx = new double[v[0].Length]; Reference.MaxPool2dBackward<double>(v[0], dy, dx, planes, h, w, k, s, p); return new double[]?[] { dx }; });
        GradCheck.Check(new[] { Random(planes * h * w, 5) },
            v => { var y = new double[planes * ho * wo]; Reference.AvgPool2d<double>(v[0], y, planes, h, w, k, s, p); return y; },
            (v, dy) => { var dx = new double[v[0].Length]; Reference.AvgPool2dBackward<double>(dy, dx, planes, h, w, k, s, p); return new double[]?[] { dx }; });
    }

    [Fact]
    public void PoolingByHand()
    {
        // One 3x3 plane, 2x2 windows, stride 2, padding 1 → 2x2 windows over the padded 5x5 grid.
        double[] x = { 1, 9, 2, 4, 3, 8, 7, 6, 5 };
        var y = new double[4];
        Reference.MaxPool2d<double>(x, y, 1, 3, 3, 2, 2, 1);
        Assert.Equal(new double[] { 1, 9, 7, 8 }, y); // windows {1}, {9, 2}, {4, 7}, {3, 8, 6, 5}
        Reference.AvgPool2d<double>(x, y, 1, 3, 3, 2, 2, 1);
        Assert.Equal(new[] { 1 / 4.0, 11 / 4.0, 11 / 4.0, 22 / 4.0 }, y); // padding counts as zeros
    }

    [Fact]
    public void GlobalAvgPoolGradientMatchesCentralDifferences()
    {
        GradCheck.Check(new[] { Random(3 * 5 * 7, 6) },
            v => { var y = new double[3]; Reference.GlobalAvgPool<double>(v[0], y, 3, 35); return y; },
            (v, dy) => { var dx = new double[105]; Reference.GlobalAvgPoolBackward<double>(dy, dx, 3, 35); return new double[]?[] { dx }; });
    }

    [Theory]
    [InlineData(new[] { 2, 3, 4, 5 }, new[] { 0, 2, 3, 1 })]
    [InlineData(new[] { 3, 5, 2 }, new[] { 0, 2, 1 })]
    [InlineData(new[] { 2, 3, 4, 5 }, new[] { 0, 3, 1, 2 })]
    public void PermuteGradientIsTheInversePermutation(int[] shape, int[] perm)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        var yShape = perm.Select(p => shape[p]).ToArray();
        var inverse = Reference.InversePermutation(perm);
        GradCheck.Check(new[] { Random(n, 7) },
            v => { var y = new double[n]; Reference.Permute<double>(v[0], shape, perm, y); return y; },
            (v, dy) => { var dx = new double[n]; Reference.Permute<double>(dy, yShape, inverse, dx); return new double[]?[] { dx }; });
        // Element check: y[index over yShape] = x[index permuted back].
        var x = Enumerable.Range(0, n).Select(i => (double)i).ToArray();
        var yv = new double[n];
        Reference.Permute<double>(x, shape, perm, yv);
        var probe = yShape.Select(d => d - 1).ToArray(); // the last element of y is the last element of x
        Assert.Equal(n - 1, yv[n - 1]);
        Assert.Equal(x[Flat(shape, perm.Select((p, i) => (p, i)).OrderBy(t => t.p).Select(t => probe[t.i]).ToArray())], yv[n - 1]);
    }

    static int Flat(int[] shape, int[] index)
    {
        int f = 0;
        for (int i = 0; i < shape.Length; i++) f = f * shape[i] + index[i];
        return f;
    }

    [Fact]
    public void ConcatAndSliceGradientsMatchCentralDifferences()
    {
        const int outer = 3, na = 2, nb = 4, inner = 5;
        GradCheck.Check(new[] { Random(outer * na * inner, 8), Random(outer * nb * inner, 9) },
            v => { var y = new double[outer * (na + nb) * inner]; Reference.Concat<double>(v[0], v[1], y, outer, na, nb, inner); return y; },
            (v, dy) =>
            {
                double[] da = new double[outer * na * inner], db = new double[outer * nb * inner];
                Reference.ConcatBackward<double>(dy, da, db, outer, na, nb, inner);
                return new double[]?[] { da, db };
            });
        GradCheck.Check(new[] { Random(outer * 7 * inner, 10) },
            v => { var y = new double[outer * 3 * inner]; Reference.Slice<double>(v[0], y, outer, 7, 2, 3, inner); return y; },
            (v, dy) => { var dx = new double[outer * 7 * inner]; Reference.SliceBackward<double>(dy, dx, outer, 7, 2, 3, inner); return new double[]?[] { dx }; });
        // Slice takes [2, 5) of each row of 7.
        var x = Enumerable.Range(0, 7).Select(i => (double)i).ToArray();
        var s = new double[3];
        Reference.Slice<double>(x, s, 1, 7, 2, 3, 1);
        Assert.Equal(new double[] { 2, 3, 4 }, s);
    }

    [Fact]
    public void EagerLayoutOpsBackPropagate()
    {
        // Σ r ⊙ f(x) for Flatten, Reshape, Transpose, Permute, Concat, Slice: the gradient of x is r moved back.
        var x = new Tensor(Random(2 * 3 * 4 * 5, 11).Select(v => (float)v).ToArray(), 2, 3, 4, 5) { RequiresGrad = true };
        Assert.Equal(new[] { 2, 60 }, Ops.Flatten(x).GetShape());
        Assert.Equal(new[] { 2, 12, 5 }, Ops.Reshape(x, -1, 5).GetShape());
        Assert.Equal(new[] { 2, 3, 5, 4 }, Ops.Transpose(x, 1, 2).GetShape());
        Assert.Equal(new[] { 2, 4, 5, 3 }, Ops.Permute(x, 1, 2, 0).GetShape());
        Assert.Equal(new[] { 2, 6, 4, 5 }, Ops.Concat(x, x, 0).GetShape());
        Assert.Equal(new[] { 2, 3, 4, 2 }, Ops.Slice(x, -1, 1, 2).GetShape());
        var loss = Ops.Sum(Ops.Flatten(Ops.Permute(Ops.Transpose(Ops.Reshape(x, 3, 20), 0, 1), 1, 0)))
                   + Ops.Sum(Ops.Slice(Ops.Concat(x, x, 2), 2, 3, 3));
        loss.Backward();
        // Every element counts once in the first term; the slice [3, 6) of the doubled width axis (5 + 5) covers
        // x's columns 3, 4 (first copy) and 0 (second copy).
        var grad = x.Grad!.ToArray();
        for (int i = 0; i < grad.Length; i++)
        {
            int w = i % 5;
            Assert.Equal(w is 0 or 3 or 4 ? 2f : 1f, grad[i]);
        }
        Assert.Throws<ArgumentException>(() => Ops.Reshape(x, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ops.Transpose(x, 0, 3));
    }

    [Fact]
    public void EagerFloatLayersMatchTheDoubleReference()
    {
        var conv = new Conv2d(3, 4, 3, stride: 2, padding: 1, groups: 1);
        var input = Random(2 * 3 * 9 * 7, 12);
        var x = new Tensor(input.Select(v => (float)v).ToArray(), 2, 3, 9, 7);
        var y = conv.Forward(x);
        var g = new Conv2dGeometry(2, 3, 9, 7, 4, 3, Stride: 2, Padding: 1);
        var expected = new double[y.Length];
        Reference.Conv2d<double>(input, conv.Weight.ToArray().Select(v => (double)v).ToArray(), new double[4], expected, g);
        Assert.Equal(new[] { 2, 4, 5, 4 }, y.GetShape());
        var actual = y.ToArray();
        for (int i = 0; i < actual.Length; i++) Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"element {i}");

        var pooled = new MaxPool2d(2).Forward(y);
        Assert.Equal(new[] { 2, 4, 2, 2 }, pooled.GetShape());
        var avg = new AvgPool2d(3, stride: 1, padding: 1).Forward(y);
        Assert.Equal(new[] { 2, 4, 5, 4 }, avg.GetShape());
        Assert.Equal(new[] { 2, 4 }, Ops.GlobalAvgPool(y).GetShape());
        var bad = Assert.Throws<ArgumentException>(() => conv.Forward(new Tensor(2, 5, 9, 7)));
        Assert.Contains("(2, 5, 9, 7)", bad.Message);
        Assert.Contains("(B, 3, H, W)", bad.Message);
    }

    [Fact]
    public void ConvWeightFanInIsInputChannelsPerGroupTimesWindow()
    {
        // He-uniform bound sqrt(6 / fan-in) with fan-in = in/groups · k · k = 2 · 9 = 18.
        var conv = new Conv2d(4, 64, 3, groups: 2);
        double bound = Math.Sqrt(6.0 / 18);
        var w = conv.Weight.ToArray();
        Assert.All(w, v => Assert.True(Math.Abs(v) <= bound));
        Assert.True(w.Max(Math.Abs) > 0.9 * bound, "the weights do not fill the He-uniform range");
    }
}

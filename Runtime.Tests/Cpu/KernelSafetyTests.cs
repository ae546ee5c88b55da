using System;
using System.Linq;
using ModelGen.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Cpu;

/// <summary>
/// Memory safety of the public kernels that take indices or sizes from their caller (issue 15): fuzz-style cases
/// with random valid indices (checked against the references) and random invalid ones (negative, one past the end,
/// huge, NaN, fractional), which must throw an <see cref="ArgumentException"/> naming the kernel before anything is
/// written (the output buffer is compared with its sentinel fill); sizes whose product overflows a long; and caller
/// sizes that used to size a stackalloc (a 700 × 700 convolution kernel, a shape of two million dimensions).
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public sealed class KernelSafetyTests
{
    const float Sentinel = -12345.5f;
    const int Rounds = 40;

    static float[] Filled(int n) => Enumerable.Repeat(Sentinel, n).ToArray();

    /// <summary>Runs a call that must be rejected: an ArgumentException naming <paramref name="kernel"/>, and <paramref name="output"/> untouched.</summary>
    static void Rejected(Action call, float[] output, string kernel, string what)
    {
        float[] before = (float[])output.Clone();
        var e = Assert.ThrowsAny<ArgumentException>(call);
        Assert.True(e.Message.Contains(kernel), $"{what}: the message '{e.Message}' does not name {kernel}.");
        Assert.True(before.AsSpan().SequenceEqual(output), $"{what}: the output was written before the error.");
    }

    static readonly float[] s_badFloatIndices = { -2f, -1e9f, 1e9f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, 2147483648f };

    // ---------------------------------------------------------------- max pooling's argmax

    static void ScatterReference(float[] argmax, float[] dy, float[] dx, int planes, int size, int outSize)
    {
        Array.Clear(dx);
        for (int p = 0; p < planes; p++)
        for (int o = 0; o < outSize; o++)
        {
            int at = (int)argmax[p * outSize + o];
            if (at >= 0) dx[p * size + at] += dy[p * outSize + o];
        }
    }

    [Theory]
    [InlineData(SimdLevel.Avx512)]
    [InlineData(SimdLevel.Avx2)]
    [InlineData(SimdLevel.Scalar)]
    public void MaxPool2dBackward_fuzzed_argmax_valid_match_the_scatter_invalid_throw_before_writing(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(15);
        for (int round = 0; round < Rounds; round++)
        {
            // Small planes, and every few rounds enough of them for the parallel path (planes·H·W ≥ 2^14).
            int planes = round % 8 == 7 ? 40 : rng.Next(1, 6), h = rng.Next(2, 30), w = rng.Next(2, 30);
            int oh = rng.Next(1, h + 1), ow = rng.Next(1, w + 1), size = h * w, outSize = oh * ow;
            float[] argmax = new float[planes * outSize], dy = CpuTestSupport.Random(rng, planes * outSize);
            for (int i = 0; i < argmax.Length; i++)
                argmax[i] = rng.Next(8) == 0 ? -1 : rng.Next(size);
            if (round % 2 == 0)
            {
                // Argmax from the forward pass: the 2 × 2 block path takes these.
                oh = h / 2; ow = w / 2; outSize = oh * ow;
                argmax = new float[planes * outSize];
                dy = CpuTestSupport.Random(rng, planes * outSize);
                Kernels.MaxPool2d(CpuTestSupport.Random(rng, planes * size), new float[planes * outSize], argmax, planes, h, w, 2, 2, 0);
            }
            var want = new float[planes * size];
            ScatterReference(argmax, dy, want, planes, size, outSize);
            float[] dx = Filled(planes * size);
            Kernels.MaxPool2dBackward(argmax, dy, dx, planes, h, w, oh, ow);
            Assert.Equal(want, dx);

            float[] bad = (float[])argmax.Clone();
            int at = rng.Next(bad.Length);
            float value = rng.Next(3) switch
            {
                0 => size + rng.Next(3),                          // == size, or just past it
                1 => s_badFloatIndices[rng.Next(s_badFloatIndices.Length)],
                _ => -1.5f - rng.Next(4),                         // below −1
            };
            bad[at] = value;
            dx = Filled(planes * size);
            Rejected(() => Kernels.MaxPool2dBackward(bad, dy, dx, planes, h, w, oh, ow), dx, nameof(Kernels.MaxPool2dBackward),
                $"round {round}: argmax[{at}] = {value} of a {h}x{w} plane");
        }
    }

    [Fact]
    public void MaxPool2dBackward_rejects_a_fractional_position()
    {
        float[] dx = Filled(16);
        Rejected(() => Kernels.MaxPool2dBackward(new[] { 0f, 2f, 8.5f, 10f }, new float[4], dx, 1, 4, 4, 2, 2), dx,
            nameof(Kernels.MaxPool2dBackward), "argmax 8.5");
    }

    // ---------------------------------------------------------------- embedding ids

    [Theory]
    [InlineData(SimdLevel.Avx2)]
    [InlineData(SimdLevel.Scalar)]
    public void Embedding_fuzzed_ids_valid_match_the_reference_invalid_throw_before_writing(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        var rng = new Random(16);
        for (int round = 0; round < Rounds; round++)
        {
            int count = rng.Next(1, 50), dim = rng.Next(1, 9), n = rng.Next(1, 40);
            float[] ids = Enumerable.Range(0, n).Select(_ => (float)rng.Next(count)).ToArray();
            float[] table = CpuTestSupport.Random(rng, count * dim), dy = CpuTestSupport.Random(rng, n * dim);
            var wantY = new float[n * dim];
            Reference.Embedding<float>(ids, table, wantY, count, dim);
            float[] y = Filled(n * dim);
            Kernels.Embedding(ids, table, y, count, dim);
            Assert.Equal(wantY, y);
            var wantD = new float[count * dim];
            Reference.EmbeddingBackward<float>(ids, dy, wantD, count, dim);
            float[] dTable = Filled(count * dim);
            Kernels.EmbeddingBackward(ids, dy, dTable, count, dim);
            for (int i = 0; i < wantD.Length; i++)
                Assert.True(Math.Abs(wantD[i] - dTable[i]) <= 1e-5f, $"round {round}: dWeight[{i}] = {dTable[i]}, want {wantD[i]}");

            float[] bad = (float[])ids.Clone();
            int at = rng.Next(n);
            float value = rng.Next(3) switch
            {
                0 => count + rng.Next(2),
                1 => s_badFloatIndices[rng.Next(s_badFloatIndices.Length)],
                _ => rng.Next(count - 1 + 1) + 0.25f,
            };
            bad[at] = value;
            y = Filled(n * dim);
            Rejected(() => Kernels.Embedding(bad, table, y, count, dim), y, nameof(Kernels.Embedding), $"round {round}: ids[{at}] = {value}");
            dTable = Filled(count * dim);
            Rejected(() => Kernels.EmbeddingBackward(bad, dy, dTable, count, dim), dTable, nameof(Kernels.EmbeddingBackward), $"round {round}: ids[{at}] = {value}");
        }
    }

    [Fact]
    public void Embedding_rejects_a_table_shorter_than_count_by_dim_before_writing()
    {
        float[] y = Filled(4);
        Rejected(() => Kernels.Embedding(new[] { 0f, 3f }, new float[6], y, 4, 2), y, "weight", "a 4 x 2 table in 6 floats");
    }

    // ---------------------------------------------------------------- class labels

    [Fact]
    public void Cross_entropy_kernels_fuzzed_labels_valid_match_the_reference_invalid_throw_before_writing()
    {
        var rng = new Random(17);
        int[] badLabels = { -1, int.MinValue, int.MaxValue };
        for (int round = 0; round < Rounds; round++)
        {
            int rows = rng.Next(1, 20), classes = rng.Next(1, 40);
            float smoothing = round % 2 == 0 ? 0f : 0.1f;
            float[] logits = CpuTestSupport.Random(rng, rows * classes, 5f);
            int[] labels = Enumerable.Range(0, rows).Select(_ => rng.Next(classes)).ToArray();
            var wantP = new double[rows * classes];
            double wantLoss = Reference.CrossEntropy<double>(logits.Select(v => (double)v).ToArray(), labels, rows, classes, smoothing, wantP);
            float[] p = Filled(rows * classes);
            float loss = smoothing == 0f ? Kernels.SoftmaxCrossEntropy(logits, labels, rows, classes, p) : Kernels.CrossEntropy(logits, labels, rows, classes, smoothing, p);
            Assert.True(Math.Abs(loss - wantLoss) <= 1e-5 * Math.Abs(wantLoss) + 1e-5, $"round {round}: loss {loss}, want {wantLoss}");
            for (int i = 0; i < p.Length; i++)
                Assert.True(Math.Abs(p[i] - wantP[i]) <= 1e-6, $"round {round}: p[{i}] = {p[i]}, want {wantP[i]}");

            int[] bad = (int[])labels.Clone();
            int at = rng.Next(rows), value = rng.Next(2) == 0 ? classes + rng.Next(3) : badLabels[rng.Next(badLabels.Length)];
            bad[at] = value;
            string what = $"round {round}: labels[{at}] = {value} of {classes} classes";
            float[] q = Filled(rows * classes);
            Assert.Equal(value, Assert.ThrowsAny<ArgumentOutOfRangeException>(() => Kernels.SoftmaxCrossEntropy(logits, bad, rows, classes, q)).ActualValue);
            Assert.All(q, v => Assert.Equal(Sentinel, v));
            Assert.ThrowsAny<ArgumentOutOfRangeException>(() => Kernels.CrossEntropy(logits, bad, rows, classes, smoothing, q));
            Assert.All(q, v => Assert.Equal(Sentinel, v));
            Assert.ThrowsAny<ArgumentOutOfRangeException>(() => Kernels.SoftmaxCrossEntropyBackward(p, bad, rows, classes, 1f, q));
            Assert.All(q, v => Assert.Equal(Sentinel, v));
            Assert.ThrowsAny<ArgumentOutOfRangeException>(() => Kernels.CrossEntropyBackward(p, bad, rows, classes, smoothing, 1f, q));
            Assert.True(q.All(v => v == Sentinel), what);
        }
    }

    // ---------------------------------------------------------------- axes and windows

    [Fact]
    public void Permute_fuzzed_perms_valid_match_the_reference_invalid_throw_before_writing()
    {
        var rng = new Random(18);
        for (int round = 0; round < Rounds; round++)
        {
            int rank = rng.Next(1, 6);
            int[] shape = Enumerable.Range(0, rank).Select(_ => rng.Next(1, 5)).ToArray();
            int[] perm = Enumerable.Range(0, rank).OrderBy(_ => rng.Next()).ToArray();
            int total = shape.Aggregate(1, (a, b) => a * b);
            float[] x = CpuTestSupport.Random(rng, total), want = new float[total], y = Filled(total);
            Reference.Permute<float>(x, shape, perm, want);
            Kernels.Permute(x, shape, perm, y);
            Assert.Equal(want, y);

            int[] bad = (int[])perm.Clone();
            int at = rng.Next(rank);
            bad[at] = rng.Next(3) switch { 0 => rank, 1 => -1 - rng.Next(3), _ => rank == 1 ? int.MaxValue : bad[(at + 1) % rank] };
            y = Filled(total);
            Rejected(() => Kernels.Permute(x, shape, bad, y), y, nameof(Kernels.Permute), $"round {round}: perm ({string.Join(", ", bad)})");
        }
    }

    [Fact]
    public void Slice_fuzzed_windows_valid_match_the_reference_invalid_throw_before_writing()
    {
        var rng = new Random(19);
        for (int round = 0; round < Rounds; round++)
        {
            int outer = rng.Next(1, 4), axis = rng.Next(1, 9), inner = rng.Next(1, 4);
            int start = rng.Next(axis), length = rng.Next(axis - start + 1);
            float[] x = CpuTestSupport.Random(rng, outer * axis * inner);
            float[] want = new float[outer * length * inner], y = Filled(want.Length);
            Reference.Slice<float>(x, want, outer, axis, start, length, inner);
            Kernels.Slice(x, y, outer, axis, start, length, inner);
            Assert.Equal(want, y);

            // Windows past the end, before the start, negative, and one whose end overflows an int.
            var (badStart, badLength) = rng.Next(4) switch
            {
                0 => (start, axis - start + 1 + rng.Next(3)),
                1 => (-1 - rng.Next(3), length),
                2 => (start, -1),
                _ => (int.MaxValue - rng.Next(2), 1 + rng.Next(2)),
            };
            float[] big = Filled(outer * axis * inner);
            Rejected(() => Kernels.Slice(x, big, outer, axis, badStart, badLength, inner), big, nameof(Kernels.Slice), $"round {round}: [{badStart}, +{badLength}) of {axis}");
            Rejected(() => Kernels.SliceBackward(x, big, outer, axis, badStart, badLength, inner), big, nameof(Kernels.SliceBackward), $"round {round}: [{badStart}, +{badLength}) of {axis}");
        }
    }

    // ---------------------------------------------------------------- sizes whose product overflows

    [Fact]
    public void Sizes_whose_product_overflows_a_long_are_rejected_before_any_access()
    {
        // (2^31 − 1)² · 4 wraps to a negative long, which the old length checks let through to unchecked pointers.
        const int Big = int.MaxValue;
        float[] small = Filled(16);
        Rejected(() => Kernels.MaxPool2dBackward(new float[16], new float[16], small, Big, Big, 4, Big, 4), small, "x", "pooling backward");
        Rejected(() => Kernels.MaxPool2d(new float[16], small, new float[16], Big, Big, 4, 1, 1, 0), small, "x", "pooling");
        Rejected(() => Kernels.Conv2dForward(new float[16], new float[16], default, small, default, new Conv2dGeometry(1, 4, Big, Big, 4, 1)), small, "x",
            "pointwise convolution of 2^31 − 1 square images");
        Rejected(() => Kernels.Softmax(new float[16], small, Big, Big, 4), small, "view", "softmax view");
        Rejected(() => Kernels.ChannelSum(new float[16], small, Big, Big, 4), small, "dy", "channel sum");
        Rejected(() => Kernels.Im2Col(new float[16], small, -1, 4, 4, 1, 1, 0, 1), small, nameof(Kernels.Im2Col), "negative channels");
        Rejected(() => Kernels.Col2Im(new float[16], small, 1, 4, 4, 1, 1, int.MaxValue, 1), small, nameof(Kernels.Col2Im), "padding overflowing H + 2p");
        Rejected(() => Kernels.AvgPool2d(new float[16], small, 1, 4, 4, 2, 0, 0), small, "stride", "a zero pooling stride");
        Rejected(() => Kernels.MaxPool2d(new float[16], small, new float[16], 1, 4, 4, 2, 1, int.MaxValue), small, "padding", "padding overflowing H + 2p");
    }

    [Fact]
    public void DropoutBackward_with_a_longer_dx_reads_and_writes_only_dy_s_length()
    {
        var rng = new Random(20);
        float[] dy = CpuTestSupport.Random(rng, 5), mask = { 2f, 0f, 2f, 2f, 0f };
        float[] dx = Filled(40);
        Kernels.DropoutBackward(dy, mask, dx);
        for (int i = 0; i < 5; i++) Assert.Equal(dy[i] * mask[i], dx[i]);
        for (int i = 5; i < dx.Length; i++) Assert.True(dx[i] == Sentinel, $"dx[{i}] = {dx[i]} was written past dy's 5 values.");
    }

    // ---------------------------------------------------------------- caller sizes that sized a stackalloc

    [Theory]
    [InlineData(SimdLevel.Avx512)]
    [InlineData(SimdLevel.Scalar)]
    public void Convolution_with_a_700_by_700_kernel_gives_the_reference(SimdLevel level)
    {
        using var _ = CpuTestSupport.Force(level);
        const int K = 700;
        var rng = new Random(21);
        var g = new Conv2dGeometry(1, 1, K, K, 1, K);
        float[] x = CpuTestSupport.Random(rng, K * K), w = CpuTestSupport.Random(rng, K * K), y = new float[1];
        // Enough workspace for the implicit GEMM on AVX2/AVX-512 (weights packed as K² taps × up to 32 columns, and a
        // pitched image), whose chunk kept a table of the K² tap offsets on the stack: 1.9 MB here. The call runs on a
        // thread with a 1 MiB stack (the default of a Windows thread), where that table overflowed it.
        var workspace = new float[K * K * 40];
        OnSmallStack(() => Kernels.Conv2dForward(x, w, default, y, workspace, g));
        double want = 0;
        for (int i = 0; i < K * K; i++) want += (double)x[i] * w[i];
        Assert.True(Math.Abs(y[0] - want) <= 1e-3 * K, $"y = {y[0]}, want {want}");
    }

    /// <summary>Runs <paramref name="body"/> on a thread with a 1 MiB stack (and the caller's SIMD level), rethrowing what it throws.</summary>
    static void OnSmallStack(Action body)
    {
        Exception? error = null;
        SimdLevel level = CpuFeatures.Active;
        var thread = new System.Threading.Thread(() =>
        {
            try
            {
                using (CpuFeatures.Force(level)) body();
            }
            catch (Exception e)
            {
                error = e;
            }
        }, 1 << 20);
        thread.Start();
        thread.Join();
        if (error != null) throw new AggregateException(error);
    }

    [Fact]
    public void Broadcasting_over_two_million_dimensions_gives_the_reference()
    {
        const int Rank = 2_000_000;
        int[] yShape = Enumerable.Repeat(1, Rank).ToArray(), xShape = { 3 };
        yShape[Rank - 2] = 2;
        yShape[Rank - 1] = 3;
        float[] x = { 1f, 2f, 3f }, y = Filled(6);
        OnSmallStack(() => Kernels.BroadcastTo(x, xShape, y, yShape));
        Assert.Equal(new[] { 1f, 2f, 3f, 1f, 2f, 3f }, y);

        float[] back = Filled(3);
        Kernels.ReduceTo(y, yShape, back, xShape);
        Assert.Equal(new[] { 2f, 4f, 6f }, back);

        // The eager reference's permutation: the identity over the same rank.
        int[] identity = Enumerable.Range(0, Rank).ToArray();
        float[] permuted = Filled(6);
        Reference.Permute<float>(y, yShape, identity, permuted);
        Assert.Equal(y, permuted);
    }
}

using System;
using System.Linq;
using ModelGen.Cpu;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Convolution;

/// <summary>
/// The convolution kernels split the batch into up to Kernels.Conv2dSlots chunks on the worker pool, and 2×2/2 max
/// pooling has a four-at-a-time path: on 1 and 2 threads, under every SIMD level, with the full workspace and with the
/// least one (one image's column matrix, one chunk), the results match the reference, and the weight gradient is the
/// same to the bit on any thread count.
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public class ConvolutionParallelTests
{
    public static TheoryData<SimdLevel, int, string, Conv2dGeometry> Cases()
    {
        var data = new TheoryData<SimdLevel, int, string, Conv2dGeometry>();
        var shapes = new (string, Conv2dGeometry)[]
        {
            ("same 3x3, batch 9 (uneven chunks)", new Conv2dGeometry(9, 3, 6, 10, 5, 3, Padding: 1)),
            ("same 5x5, one input channel", new Conv2dGeometry(5, 1, 7, 9, 4, 5, Padding: 2)),
            ("same, dilation 2, groups 2", new Conv2dGeometry(6, 4, 5, 8, 6, 3, Padding: 2, Dilation: 2, Groups: 2)),
            ("valid 3x3, batch 3", new Conv2dGeometry(3, 2, 8, 6, 3, 3)),
            ("pointwise, batch 7", new Conv2dGeometry(7, 5, 4, 3, 6, 1)),
            ("stride 2, batch 2", new Conv2dGeometry(2, 3, 9, 9, 4, 3, Stride: 2, Padding: 1)),
            // Few taps per group and many outputs: the weight gradient is computed transposed per chunk.
            ("first layer: 1 channel, 20 outputs", new Conv2dGeometry(6, 1, 6, 7, 20, 3, Padding: 1)),
            ("few taps, 2 groups of 18 outputs", new Conv2dGeometry(3, 2, 5, 6, 36, 3, Padding: 1, Groups: 2)),
            ("transposed forward, batch 5 (uneven chunks)", new Conv2dGeometry(5, 16, 5, 7, 64, 3, Padding: 1)),
        };
        foreach (var level in CpuTestSupport.AllLevels)
            foreach (int threads in new[] { 1, 2 })
                foreach (var (name, g) in shapes) data.Add(level, threads, name, g);
        return data;
    }

    static void AssertClose(double[] expected, float[] actual, string what)
    {
        double scale = 1 + expected.Select(Math.Abs).DefaultIfEmpty(0).Max();
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * scale, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    static double[] D(float[] x) => x.Select(v => (double)v).ToArray();

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChunkedConvolutionMatchesReference(SimdLevel level, int threads, string name, Conv2dGeometry g)
    {
        using var forced = CpuTestSupport.Force(level);
        int saved = CpuFeatures.Threads;
        try
        {
            var rng = new Random(name.Length + threads);
            int xn = g.Batch * g.Channels * g.Height * g.Width, wn = g.OutChannels * g.GroupChannels * g.Kernel * g.Kernel;
            int yn = g.Batch * g.OutChannels * g.OutHeight * g.OutWidth;
            int columns = g.Channels * g.Kernel * g.Kernel * g.OutHeight * g.OutWidth;
            float[] x = CpuTestSupport.Random(rng, xn), w = CpuTestSupport.Random(rng, wn), b = CpuTestSupport.Random(rng, g.OutChannels);
            float[] dy = CpuTestSupport.Random(rng, yn);
            var yRef = new double[yn];
            Reference.Conv2d<double>(D(x), D(w), D(b), yRef, g);
            double[] dxRef = new double[xn], dwRef = new double[wn], dbRef = new double[g.OutChannels];
            Reference.Conv2dBackward<double>(D(x), D(w), D(dy), dxRef, dwRef, dbRef, g);

            foreach (int size in new[] { Kernels.Conv2dWorkspace(g), columns })
            {
                CpuFeatures.Threads = threads;
                var workspace = Enumerable.Repeat(float.NaN, size).ToArray();
                var y = Enumerable.Repeat(5f, yn).ToArray();
                Kernels.Conv2dForward(x, w, b, y, workspace, g);
                AssertClose(yRef, y, $"{name} y (workspace {size})");
                Array.Fill(workspace, float.NaN);
                var dx = Enumerable.Repeat(7f, xn).ToArray();
                Kernels.Conv2dBackwardData(dy, w, dx, workspace, g);
                AssertClose(dxRef, dx, $"{name} dx (workspace {size})");
                Array.Fill(workspace, float.NaN);
                var dw = Enumerable.Repeat(7f, wn).ToArray();
                Kernels.Conv2dBackwardWeight(x, dy, dw, workspace, g);
                AssertClose(dwRef, dw, $"{name} dw (workspace {size})");

                // The same chunks on one thread give the same bits.
                CpuFeatures.Threads = 1;
                Array.Fill(workspace, float.NaN);
                var dw1 = new float[wn];
                Kernels.Conv2dBackwardWeight(x, dy, dw1, workspace, g);
                Assert.Equal(dw1, dw);
                // Images are independent in the forward pass (transposed product or not): the same bits on one thread.
                Array.Fill(workspace, float.NaN);
                var y1 = new float[yn];
                Kernels.Conv2dForward(x, w, b, y1, workspace, g);
                Assert.Equal(y1, y);
            }
        }
        finally
        {
            CpuFeatures.Threads = saved;
        }
    }

    [Theory]
    [InlineData(SimdLevel.Avx512, 1)]
    [InlineData(SimdLevel.Avx512, 2)]
    [InlineData(SimdLevel.Avx2, 2)]
    [InlineData(SimdLevel.Scalar, 2)]
    public void MaxPool2x2MatchesReference(SimdLevel level, int threads)
    {
        using var forced = CpuTestSupport.Force(level);
        int saved = CpuFeatures.Threads;
        try
        {
            CpuFeatures.Threads = threads;
            var rng = new Random(11);
            // Odd sizes (the last row and column are dropped), widths below, at and above a block of four outputs, and
            // enough planes for the pool (≥ 2^14 outputs).
            // Block widths of the backward pass: 8 outputs (AVX-512), 4, and the scalar rest; 1 × 1 outputs; 7 × 7 → 3 × 3.
            foreach (var (planes, h, w) in new[]
                     {
                         (3, 7, 9), (2, 5, 5), (4, 9, 17), (5, 28, 28), (700, 14, 14), (3, 6, 15), (1, 2, 2), (7, 7, 7), (1, 3, 3),
                         (65, 3, 40), (2, 5, 33), (1, 4, 16), (3, 2, 6), (330, 5, 41),
                     })
            {
                int ho = h / 2, wo = w / 2;
                float[] x = CpuTestSupport.Random(rng, planes * h * w), dy = CpuTestSupport.Random(rng, planes * ho * wo);
                // Ties (to the first tap in window order), signed zeros and NaNs behave as the reference's v > max.
                for (int i = 0; i < x.Length; i += 5) x[i] = 0.5f;
                for (int i = 1; i < x.Length; i += 13) x[i] = -0f;
                for (int i = 2; i < x.Length; i += 17) x[i] = 0f;
                for (int i = 3; i < x.Length; i += 29) x[i] = float.NaN;
                float[] y = new float[planes * ho * wo], argmax = new float[y.Length], dx = Enumerable.Repeat(7f, x.Length).ToArray(); // overwritten
                Kernels.MaxPool2d(x, y, argmax, planes, h, w, 2, 2, 0);
                Kernels.MaxPool2dBackward(argmax, dy, dx, planes, h, w, ho, wo);
                float[] yRef = new float[y.Length], dxRef = new float[x.Length];
                Reference.MaxPool2d<float>(x, yRef, planes, h, w, 2, 2, 0);
                Reference.MaxPool2dBackward<float>(x, dy, dxRef, planes, h, w, 2, 2, 0);
                Assert.Equal(yRef.Select(BitConverter.SingleToInt32Bits), y.Select(BitConverter.SingleToInt32Bits));
                Assert.Equal(dxRef, dx);
            }
        }
        finally
        {
            CpuFeatures.Threads = saved;
        }
    }

    /// <summary>The bias gradient: the reference sums, and the same bits on 1 and 2 threads.</summary>
    [Theory]
    [InlineData(SimdLevel.Avx512)]
    [InlineData(SimdLevel.Avx2)]
    [InlineData(SimdLevel.Scalar)]
    public void ChannelSumMatchesReferenceOnAnyThreads(SimdLevel level)
    {
        using var forced = CpuTestSupport.Force(level);
        int saved = CpuFeatures.Threads;
        try
        {
            var rng = new Random(5);
            foreach (var (batch, channels, size) in new[] { (5, 37, 199), (3, 3, 7), (64, 64, 196), (33, 2, 500) })
            {
                float[] dy = CpuTestSupport.Random(rng, batch * channels * size);
                var expected = new double[channels];
                for (int n = 0; n < batch; n++)
                    for (int c = 0; c < channels; c++)
                        for (int i = 0; i < size; i++) expected[c] += dy[(n * channels + c) * size + i];
                CpuFeatures.Threads = 2;
                var db2 = Enumerable.Repeat(7f, channels).ToArray();
                Kernels.ChannelSum(dy, db2, batch, channels, size);
                AssertClose(expected, db2, $"db {batch}x{channels}x{size}");
                CpuFeatures.Threads = 1;
                var db1 = new float[channels];
                Kernels.ChannelSum(dy, db1, batch, channels, size);
                Assert.Equal(db1, db2);
            }
        }
        finally
        {
            CpuFeatures.Threads = saved;
        }
    }
}

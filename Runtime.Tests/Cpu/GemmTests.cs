using System;
using System.Collections.Generic;
using ModelGen.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Cpu;

/// <summary>
/// Sgemm against a naive double-precision reference. Tolerance per element: 2e-5 · Σ_p |a_ip·b_pj| + 1e-6
/// (float rounding of a k-term dot product stays far below that; any indexing or packing error is O(1)).
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public sealed class GemmTests
{
    static readonly (int M, int N, int K)[] s_shapes =
    {
        (1, 1, 1), (7, 13, 5), (17, 33, 65), (100, 37, 129), (257, 300, 129),
        (6, 32, 256), (12, 700, 64), (5, 1000, 40), (3, 4100, 2), (97, 95, 300),
        // Thin products (the unpacked few-row path): batch-1 inference shapes and tails of 16 and scalar columns.
        (1, 128, 784), (1, 10, 128), (2, 150, 33), (4, 273, 17),
        // At most 16 columns (the narrow path: a classifier's output layer and its weight gradient), and just too deep for it.
        (64, 10, 128), (128, 10, 64), (9, 16, 512), (6, 1, 33), (11, 3, 513),
        // Large enough for the shared-panel parallel path (several depth blocks; more columns than one panel).
        (391, 530, 300), (390, 2100, 24),
        // Large AVX-512 products (depth blocks of 512, the 12 × 32 kernel): the shared panel with a 18-deep last block
        // and row tails under 12; the per-thread path with wide column chunks (12 × 32) and narrow ones (6 × 32 reading
        // op(A) unpacked), 1 or 2 rows past a 48-row block.
        (389, 517, 530), (50, 1100, 520), (97, 700, 600),
        // The register-tile path (AVX-512, op(B) small): the MLP's products, split by columns (m ≤ n) and by rows,
        // row tails of 1 to 7 under 8-row tiles, column tails under 32 and 16, n ≤ 12 with Aᵀ stored as its transpose,
        // op(B) too large for panels (read in place with masked tails), and a transposed B too large to copy.
        (64, 128, 784), (784, 128, 64), (64, 128, 10), (65, 97, 33), (7, 100, 9), (33, 10, 70), (37, 12, 5),
        (70, 200, 500), (100, 255, 130), (12, 64, 300),
    };

    public static IEnumerable<object[]> Cases()
    {
        for (int s = 0; s < s_shapes.Length; s++)
            foreach (SimdLevel level in CpuTestSupport.AllLevels)
                for (int t = 0; t < 4; t++)
                    yield return new object[] { s_shapes[s].M, s_shapes[s].N, s_shapes[s].K, (t & 1) != 0, (t & 2) != 0, level };
    }

    sealed class Problem
    {
        public int M, N, K, Lda, Ldb, Ldc;
        public bool TransA, TransB;
        public float[] A = Array.Empty<float>(), B = Array.Empty<float>(), Bias = Array.Empty<float>();
        public double[] Product = Array.Empty<double>(), AbsProduct = Array.Empty<double>();

        public double OpA(int i, int p) => TransA ? A[p * Lda + i] : A[i * Lda + p];
        public double OpB(int p, int j) => TransB ? B[j * Ldb + p] : B[p * Ldb + j];
    }

    static Problem Make(int m, int n, int k, bool transA, bool transB, int seed)
    {
        var rng = new Random(seed);
        var pr = new Problem { M = m, N = n, K = k, TransA = transA, TransB = transB };
        // Strides larger than the minimum, so a kernel that assumes contiguous rows fails.
        pr.Lda = (transA ? m : k) + 3;
        pr.Ldb = (transB ? k : n) + 5;
        pr.Ldc = n + 2;
        pr.A = CpuTestSupport.Random(rng, (transA ? k : m) * pr.Lda);
        pr.B = CpuTestSupport.Random(rng, (transB ? n : k) * pr.Ldb);
        pr.Bias = CpuTestSupport.Random(rng, n);
        pr.Product = new double[m * n];
        pr.AbsProduct = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, sa = 0;
                for (int p = 0; p < k; p++)
                {
                    double v = pr.OpA(i, p) * pr.OpB(p, j);
                    s += v;
                    sa += Math.Abs(v);
                }
                pr.Product[i * n + j] = s;
                pr.AbsProduct[i * n + j] = sa;
            }
        return pr;
    }

    static double Activate(double v, Activation act) => act switch
    {
        Activation.Relu => Math.Max(v, 0),
        Activation.Tanh => Math.Tanh(v),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-v)),
        _ => v,
    };

    static float[] NewC(Problem pr, float fill)
    {
        var c = new float[(pr.M - 1) * pr.Ldc + pr.N + 7];
        Array.Fill(c, fill);
        return c;
    }

    static void AssertC(Problem pr, float[] c, Func<int, int, double> expected, float padding, string what)
    {
        for (int i = 0; i < pr.M; i++)
        {
            for (int j = 0; j < pr.N; j++)
            {
                double want = expected(i, j);
                double tol = 2e-5 * (pr.AbsProduct[i * pr.N + j] + Math.Abs(want)) + 1e-6;
                float got = c[i * pr.Ldc + j];
                if (!(Math.Abs(got - want) <= tol))
                    Assert.Fail($"{what}: C[{i},{j}] = {got}, expected {want} (tolerance {tol:g3})");
            }
            // The padding between rows (and after the last row) must be untouched.
            int padEnd = i == pr.M - 1 ? c.Length : (i + 1) * pr.Ldc;
            for (int j = i * pr.Ldc + pr.N; j < padEnd; j++)
                Assert.True(c[j].Equals(padding), $"{what}: padding C[{j}] was overwritten with {c[j]}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesDoubleReference(int m, int n, int k, bool transA, bool transB, SimdLevel level)
    {
        Problem pr = Make(m, n, k, transA, transB, seed: m * 1000 + n * 10 + k);
        int savedThreads = CpuFeatures.Threads;
        try
        {
            using (CpuTestSupport.Force(level))
            {
                foreach (int threads in new[] { 1, 2 })
                {
                    CpuFeatures.Threads = threads;
                    string tag = $"{m}x{n}x{k} tA={transA} tB={transB} {CpuFeatures.Active} threads={threads}";

                    // Plain product; C starts as NaN so any element not written shows up.
                    float[] c = NewC(pr, float.NaN);
                    Gemm.Sgemm(transA, transB, m, n, k, pr.A, pr.Lda, pr.B, pr.Ldb, c, pr.Ldc);
                    AssertC(pr, c, (i, j) => pr.Product[i * n + j], float.NaN, tag + " plain");

                    // Bias + each activation.
                    foreach (Activation act in new[] { Activation.None, Activation.Relu, Activation.Tanh, Activation.Sigmoid })
                    {
                        c = NewC(pr, float.NaN);
                        Gemm.Sgemm(transA, transB, m, n, k, pr.A, pr.Lda, pr.B, pr.Ldb, c, pr.Ldc, pr.Bias, act);
                        AssertC(pr, c, (i, j) => Activate(pr.Product[i * n + j] + pr.Bias[j], act), float.NaN, $"{tag} bias {act}");
                    }

                    // Activation without bias.
                    c = NewC(pr, float.NaN);
                    Gemm.Sgemm(transA, transB, m, n, k, pr.A, pr.Lda, pr.B, pr.Ldb, c, pr.Ldc, default, Activation.Relu);
                    AssertC(pr, c, (i, j) => Math.Max(pr.Product[i * n + j], 0), float.NaN, tag + " relu");

                    // Accumulate onto existing values.
                    c = NewC(pr, 0.25f);
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++)
                            c[i * pr.Ldc + j] = (i - j) * 0.125f;
                    Gemm.Sgemm(transA, transB, m, n, k, pr.A, pr.Lda, pr.B, pr.Ldb, c, pr.Ldc, accumulate: true);
                    AssertC(pr, c, (i, j) => (i - j) * 0.125 + pr.Product[i * n + j], 0.25f, tag + " accumulate");
                }
            }
        }
        finally
        {
            CpuFeatures.Threads = savedThreads;
        }
    }

    [Theory]
    [InlineData(64, 128, 784, false, false)]
    [InlineData(784, 128, 64, true, false)]
    [InlineData(128, 10, 64, true, false)]
    [InlineData(64, 128, 10, false, true)]
    [InlineData(257, 300, 129, false, false)]
    [InlineData(389, 517, 530, false, false)]
    [InlineData(97, 700, 600, true, true)]
    public void ResultsDoNotDependOnTheThreadCount(int m, int n, int k, bool transA, bool transB)
    {
        var rng = new Random(m + n + k);
        float[] a = CpuTestSupport.Random(rng, m * k), b = CpuTestSupport.Random(rng, k * n), bias = CpuTestSupport.Random(rng, n);
        int savedThreads = CpuFeatures.Threads;
        try
        {
            var results = new List<float[]>();
            foreach (int threads in new[] { 1, 2, 3 })
            {
                CpuFeatures.Threads = threads;
                var c = new float[m * n];
                Gemm.Sgemm(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, c, n, bias, Activation.Relu);
                results.Add(c);
            }
            Assert.Equal(results[0], results[1]);
            Assert.Equal(results[0], results[2]);
        }
        finally
        {
            CpuFeatures.Threads = savedThreads;
        }
    }

    [Fact]
    public void ZeroDepthWritesActivatedBiasOrLeavesAccumulatorAlone()
    {
        float[] bias = { -1f, 2f, 0.5f };
        var c = new float[6];
        Gemm.Sgemm(false, false, 2, 3, 0, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 3, c, 3, bias, Activation.Relu);
        Assert.Equal(new[] { 0f, 2f, 0.5f, 0f, 2f, 0.5f }, c);
        float[] acc = { 1, 2, 3, 4, 5, 6 };
        Gemm.Sgemm(false, false, 2, 3, 0, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 3, acc, 3, accumulate: true);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, acc);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        var a = new float[6];
        var b = new float[6];
        var c = new float[4];
        // A is 2 x 3 but only 5 elements.
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, a.AsSpan(0, 5), 3, b, 2, c, 2));
        // lda smaller than the row length.
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, a, 2, b, 2, c, 2));
        // C too short.
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, a, 3, b, 2, c.AsSpan(0, 3), 2));
        // Bias too short.
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, a, 3, b, 2, c, 2, new float[1]));
        // Bias or activation with accumulate.
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, a, 3, b, 2, c, 2, new float[2], accumulate: true));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 3, a, 3, b, 2, c, 2, default, Activation.Tanh, accumulate: true));
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, -1, 2, 3, a, 3, b, 2, c, 2));
    }

    [Fact]
    public void WarmCallsAllocateNothing()
    {
        var rng = new Random(5);
        // MLP-sized forward and backward products, large enough to use the worker pool.
        float[] x = CpuTestSupport.Random(rng, 64 * 784), w = CpuTestSupport.Random(rng, 784 * 128), bias = CpuTestSupport.Random(rng, 128);
        float[] h = new float[64 * 128], dw = new float[784 * 128], dx = new float[64 * 784];
        int savedThreads = CpuFeatures.Threads;
        try
        {
            CpuFeatures.Threads = 2;
            void Step()
            {
                Gemm.Sgemm(false, false, 64, 128, 784, x, 784, w, 128, h, 128, bias, Activation.Relu);
                Gemm.Sgemm(true, false, 784, 128, 64, x, 784, h, 128, dw, 128, accumulate: true);
                Gemm.Sgemm(false, true, 64, 784, 128, h, 128, w, 128, dx, 784);
                Gemm.Sgemm(false, false, 7, 9, 5, x, 784, w, 128, h, 128);
            }
            for (int i = 0; i < 3; i++)
                Step();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++)
                Step();
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Equal(0, allocated);
        }
        finally
        {
            CpuFeatures.Threads = savedThreads;
        }
    }

    [Fact]
    public void ForceClampsToTheCpuAndRestores()
    {
        SimdLevel before = CpuFeatures.Active;
        using (CpuFeatures.Force(SimdLevel.Scalar))
        {
            Assert.Equal(SimdLevel.Scalar, CpuFeatures.Active);
            using (CpuFeatures.Force(SimdLevel.Avx512))
                Assert.Equal(CpuFeatures.Level, CpuFeatures.Active);
            Assert.Equal(SimdLevel.Scalar, CpuFeatures.Active);
        }
        Assert.Equal(before, CpuFeatures.Active);
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuFeatures.Threads = 0);
    }
}

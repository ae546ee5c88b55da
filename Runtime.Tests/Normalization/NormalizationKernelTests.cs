using System;
using System.Linq;
using ModelGen.Cpu;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Normalization;

/// <summary>
/// Each Normalization/Losses kernel against the float reference on odd shapes (SIMD tails) under every forced SIMD
/// level: |kernel − reference| ≤ 1e-5·(1 + |reference|) (statistics are accumulated in double in the kernels and in
/// float in the reference). Dropout masks are compared exactly.
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public class NormalizationKernelTests
{
    static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what, float tolerance = 1e-5f)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])),
                $"{what}[{i}]: reference {expected[i]}, kernel {actual[i]}");
    }

    [Theory]
    [InlineData(7, 37, 1)]
    [InlineData(5, 3, 19)]
    [InlineData(2, 17, 1)]
    public void BatchNormKernelsMatchReference(int n, int c, int s)
    {
        var rng = new Random(n * 100 + c);
        int len = n * c * s;
        var x = CpuTestSupport.Random(rng, len, 2f);
        var w = CpuTestSupport.Random(rng, c);
        var b = CpuTestSupport.Random(rng, c);
        var dy = CpuTestSupport.Random(rng, len);
        var rm = CpuTestSupport.Random(rng, c);
        var rv = CpuTestSupport.Random(rng, c).Select(v => v + 1.5f).ToArray();
        var (y, mean, inv, var) = (new float[len], new float[c], new float[c], new float[c]);
        Reference.BatchNormTrain<float>(x, w, b, y, mean, inv, var, n, c, s, 1e-5f);
        var (dx, dw, db) = (new float[len], new float[c], new float[c]);
        Reference.BatchNormTrainBackward<float>(x, w, mean, inv, dy, dx, dw, db, n, c, s);
        var yi = new float[len];
        Reference.BatchNormInfer<float>(x, w, b, rm, rv, yi, n, c, s, 1e-5f);
        var (rmE, rvE) = ((float[])rm.Clone(), (float[])rv.Clone());
        Reference.BatchNormUpdateRunning<float>(mean, var, rmE, rvE, n * s, 0.1f);

        foreach (var level in CpuTestSupport.AllLevels)
        {
            using var forced = CpuTestSupport.Force(level);
            var (ky, stats) = (new float[len], new float[3 * c]);
            Kernels.BatchNormForward(x, w, b, ky, stats, n, c, s, 1e-5f);
            Close(y, ky, $"{level} y");
            Close(mean, stats.AsSpan(0, c), $"{level} mean");
            Close(inv, stats.AsSpan(c, c), $"{level} invStd", 1e-4f);
            var (kdw, kdb, kdx) = (new float[c], new float[c], new float[len]);
            Kernels.BatchNormParameterGradients(x, stats, dy, kdw, Span<float>.Empty, n, c, s);
            Kernels.BatchNormParameterGradients(x, stats, dy, Span<float>.Empty, kdb, n, c, s);
            Kernels.BatchNormInputGradient(x, w, stats, dy, kdw, kdb, kdx, n, c, s);
            Close(dw, kdw, $"{level} dweight", 1e-4f);
            Close(db, kdb, $"{level} dbias");
            Close(dx, kdx, $"{level} dx", 1e-4f);
            var kyi = new float[len];
            Kernels.BatchNormInference(x, w, b, rm, rv, kyi, n, c, s, 1e-5f);
            Close(yi, kyi, $"{level} inference");
            var (krm, krv) = ((float[])rm.Clone(), (float[])rv.Clone());
            Kernels.BatchNormUpdateRunning(stats, krm, krv, c, n * s, 0.1f);
            Close(rmE, krm, $"{level} running mean");
            Close(rvE, krv, $"{level} running var", 1e-4f);
        }
    }

    [Theory]
    [InlineData(0.3, 1)]
    [InlineData(0.5, 1003)]
    [InlineData(0.0, 77)]
    [InlineData(1.0, 31)]
    public void DropoutMaskIsTheReferenceMaskOnEveryLevel(double p, int n)
    {
        var x = CpuTestSupport.Random(new Random(n), n);
        var mask = new float[n];
        Reference.DropoutMask<float>(mask, p, seed: 42, salt: DropoutRandom.Salt("drop"), step: 3);
        foreach (var level in CpuTestSupport.AllLevels)
        {
            using var forced = CpuTestSupport.Force(level);
            var (km, ky, kdx) = (new float[n], new float[n], new float[n]);
            Kernels.DropoutForward(x, km, ky, (float)p, 42, DropoutRandom.Salt("drop"), 3);
            Assert.Equal(mask, km);
            for (int i = 0; i < n; i++) Assert.Equal(x[i] * mask[i], ky[i]);
            Kernels.DropoutBackward(x, km, kdx);
            Assert.Equal(ky, kdx);
        }
    }

    [Fact]
    public void DropoutStatistics()
    {
        // 200 000 draws at p = 0.3: the dropped fraction has standard deviation ~0.001; allow 0.005. Kept values are
        // scaled by exactly 1/(1 − p). Another step, seed or salt gives another mask.
        const int n = 200_000;
        const float p = 0.3f;
        var x = Enumerable.Repeat(1f, n).ToArray();
        var (mask, y) = (new float[n], new float[n]);
        Kernels.DropoutForward(x, mask, y, p, 7, 11, 1);
        double dropped = mask.Count(m => m == 0) / (double)n;
        Assert.InRange(dropped, p - 0.005, p + 0.005);
        Assert.All(y.Where(v => v != 0), v => Assert.Equal(1f / (1f - p), v));
        var other = new float[n];
        foreach (var (seed, salt, step) in new[] { (7UL, 11UL, 2L), (8UL, 11UL, 1L), (7UL, 12UL, 1L) })
        {
            Kernels.DropoutForward(x, other, y, p, seed, salt, step);
            double agree = Enumerable.Range(0, n).Count(i => (mask[i] == 0) == (other[i] == 0)) / (double)n;
            Assert.InRange(agree, 0.58 - 0.01, 0.58 + 0.01); // independent masks agree with probability 0.7² + 0.3² = 0.58
        }
        // Thread-count independence is by construction (a pure function of the index): a slice drawn alone matches.
        Assert.Equal(DropoutRandom.Uniform(DropoutRandom.Key(7, 11, 1), 12345) >= p ? 1f / (1f - p) : 0f, mask[12345]);
    }

    [Fact]
    public void LossKernelsMatchReference()
    {
        var rng = new Random(5);
        const int n = 37;
        var a = CpuTestSupport.Random(rng, n, 3f);
        var t = CpuTestSupport.Random(rng, n);
        var (r1, r2, k1) = (new float[n], new float[n], new float[n]);
        foreach (var level in CpuTestSupport.AllLevels)
        {
            using var forced = CpuTestSupport.Force(level);
            Close(new[] { Reference.BinaryCrossEntropyWithLogits<float>(a, t) }, new[] { Kernels.BinaryCrossEntropyWithLogits(a, t) }, "bce");
            Reference.BinaryCrossEntropyWithLogitsBackward<float>(a, t, 0.7f, r1, r2);
            Kernels.BinaryCrossEntropyWithLogitsBackward(a, t, 0.7f, k1, Span<float>.Empty);
            Close(r1, k1, "bce dlogits");
            Kernels.BinaryCrossEntropyWithLogitsBackward(a, t, 0.7f, Span<float>.Empty, k1);
            Close(r2, k1, "bce dtargets");
            Close(new[] { Reference.L1Loss<float>(a, t) }, new[] { Kernels.L1Loss(a, t) }, "l1");
            Reference.L1LossBackward<float>(a, t, 0.7f, r1, r2);
            Kernels.L1LossBackward(a, t, 0.7f, k1);
            Close(r1, k1, "l1 grad");
            Close(new[] { Reference.HuberLoss<float>(a, t, 0.8f) }, new[] { Kernels.HuberLoss(a, t, 0.8f) }, "huber");
            Reference.HuberLossBackward<float>(a, t, 0.8f, 0.7f, r1, r2);
            Kernels.HuberLossBackward(a, t, 0.8f, 0.7f, k1);
            Close(r1, k1, "huber grad");
            int rows = 5, classes = 19;
            var logits = CpuTestSupport.Random(rng, rows * classes, 4f);
            int[] labels = { 3, 0, 18, 7, 7 };
            var (rp, kp) = (new float[rows * classes], new float[rows * classes]);
            Close(new[] { Reference.CrossEntropy<float>(logits, labels, rows, classes, 0.15f, rp) },
                new[] { Kernels.CrossEntropy(logits, labels, rows, classes, 0.15f, kp) }, "cross-entropy");
            Close(rp, kp, "probabilities");
            var (rd, kd) = (new float[rows * classes], new float[rows * classes]);
            Reference.CrossEntropyBackward<float>(rp, labels, rows, classes, 0.15f, 0.7f, rd);
            Kernels.CrossEntropyBackward(kp, labels, rows, classes, 0.15f, 0.7f, kd);
            Close(rd, kd, "cross-entropy grad");
        }
    }
}

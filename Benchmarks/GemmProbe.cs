using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// <c>-- gemm M N K [tA tB] [threads]</c>: a quick Sgemm probe (median of 9 windows of about 0.1 s each), for tuning
/// without BenchmarkDotNet's minutes. Prints GFLOP/s and µs per call. With <c>ab</c> appended: the large-product kernel
/// old (6 × 32, depth 256) against new (12 × 32, depth 512) in alternating windows of one process.
/// <c>-- gemm mlp [threads] [tileParallelThreshold]</c>: the five products of the MLP training step (784-128-10,
/// batch 64) and its softmax cross-entropy, each timed with the register-tile path on and off in alternating windows
/// of the same process (median and min µs of 11 windows, after 2000 calls of each so that tiered JIT has finished).
/// </summary>
public static class GemmProbe
{
    /// <summary>Runs the probe.</summary>
    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "mlp")
            return Mlp(args[1..]);
        if (args.Contains("ab"))
            return AlternateTall(args.Where(a => a != "ab").ToArray());
        var (Call, name, flop) = Product(args);
        long t0 = Stopwatch.GetTimestamp();
        int calls = 0;
        while (Stopwatch.GetElapsedTime(t0).TotalSeconds < 0.2) { Call(); calls++; }
        int per = Math.Max(1, calls / 2);
        var times = new double[9];
        for (int w = 0; w < times.Length; w++)
        {
            long s = Stopwatch.GetTimestamp();
            for (int i = 0; i < per; i++) Call();
            times[w] = Stopwatch.GetElapsedTime(s).TotalSeconds / per;
        }
        Array.Sort(times);
        double t = times[times.Length / 2];
        Console.WriteLine($"{name}: {flop / t / 1e9:F1} GFLOP/s, {t * 1e6:F2} us (min {flop / times[0] / 1e9:F1})");
        return 0;
    }

    /// <summary>
    /// <c>-- gemm M N K [tA tB] [threads] ab</c>: large AVX-512 products with the 6 × 32 kernel at depth 256 (old) and the
    /// 12 × 32 kernel at depth 512 (new, <see cref="Gemm.TallKernelEnabled"/>)
    /// in alternating windows of the same process (after 1.5 s of warm-up), median and max GFLOP/s of 15 windows each.
    /// </summary>
    static int AlternateTall(string[] args)
    {
        var (Call, name, flop) = Product(args);
        long t0 = Stopwatch.GetTimestamp();
        int calls = 0;
        while (Stopwatch.GetElapsedTime(t0).TotalSeconds < 1.5) { Gemm.TallKernelEnabled = (calls & 1) == 1; Call(); calls++; }
        int per = Math.Max(1, calls / 30);
        var times = new double[2][] { new double[15], new double[15] };
        for (int w = 0; w < 15; w++)
            for (int t = 0; t < 2; t++)
            {
                Gemm.TallKernelEnabled = t == 1;
                long s = Stopwatch.GetTimestamp();
                for (int i = 0; i < per; i++) Call();
                times[t][w] = Stopwatch.GetElapsedTime(s).TotalSeconds / per;
            }
        Gemm.TallKernelEnabled = true;
        for (int t = 0; t < 2; t++)
        {
            Array.Sort(times[t]);
            Console.WriteLine($"{name} {(t == 1 ? "12x32, depth 512" : " 6x32, depth 256")}: median {flop / times[t][7] / 1e9:F1} GFLOP/s, max {flop / times[t][0] / 1e9:F1}");
        }
        return 0;
    }

    /// <summary>
    /// The product named by <c>M N K [tA tB] [threads]</c> on uniform random operands: sets the thread count and
    /// returns one call, its description and its floating-point operations.
    /// </summary>
    static (Action Call, string Name, double Flop) Product(string[] args)
    {
        int[] v = args.Take(3).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray();
        int m = v[0], n = v[1], k = v[2];
        bool ta = args.Length > 3 && args[3] == "1", tb = args.Length > 4 && args[4] == "1";
        CpuFeatures.Threads = args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
        var rng = new Random(1);
        var a = Enumerable.Range(0, m * k).Select(_ => rng.NextSingle()).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => rng.NextSingle()).ToArray();
        var c = new float[m * n];
        int lda = ta ? m : k, ldb = tb ? k : n;
        return (() => Gemm.Sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, n), $"gemm {m}x{n}x{k} tA={ta} tB={tb} threads={CpuFeatures.Threads}", 2.0 * m * n * k);
    }

    static int Mlp(string[] args)
    {
        CpuFeatures.Threads = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2;
        if (args.Length > 1)
            Gemm.TileParallelThreshold = long.Parse(args[1], CultureInfo.InvariantCulture);
        const int B = 64;
        var rng = new Random(1);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        float[] x = R(B * 784), w1 = R(784 * 128), b1 = R(128), w2 = R(128 * 10), b2 = R(10), h = R(B * 128);
        float[] dy = R(B * 10), dz = R(B * 128), logits = new float[B * 10], dh = new float[B * 128];
        float[] dw1 = new float[784 * 128], dw2 = new float[128 * 10], hidden = new float[B * 128], probs = new float[B * 10];
        int[] labels = Enumerable.Range(0, B).Select(i => i % 10).ToArray();
        var parts = new List<(string Name, double Flop, Action Body)>
        {
            ("HiddenForward 64x128x784 +bias,relu", 2.0 * B * 128 * 784, () => Gemm.Sgemm(false, false, B, 128, 784, x, 784, w1, 128, hidden, 128, b1, Activation.Relu)),
            ("dW1 = X^T dZ 784x128x64", 2.0 * B * 128 * 784, () => Gemm.Sgemm(true, false, 784, 128, B, x, 784, dz, 128, dw1, 128)),
            ("OutputForward 64x10x128 +bias", 2.0 * B * 10 * 128, () => Gemm.Sgemm(false, false, B, 10, 128, h, 128, w2, 10, logits, 10, b2)),
            ("dW2 = H^T dY 128x10x64", 2.0 * B * 10 * 128, () => Gemm.Sgemm(true, false, 128, 10, B, h, 128, dy, 10, dw2, 10)),
            ("dH = dY W2^T 64x128x10", 2.0 * B * 10 * 128, () => Gemm.Sgemm(false, true, B, 128, 10, dy, 10, w2, 10, dh, 128)),
            ("softmax-CE 64x10 (not a product)", 0, () => Kernels.SoftmaxCrossEntropy(dy, labels, B, 10, probs)),
        };
        Console.WriteLine($"# MLP products, {CpuFeatures.Threads} threads: median / min us of 11 windows, tiles off vs on (same process, alternating)");
        foreach (var (name, flop, body) in parts)
        {
            var t = new double[2][];
            for (int v = 0; v < 2; v++)
            {
                Gemm.TilesEnabled = v == 1;
                for (int i = 0; i < 2000; i++) body();
            }
            int calls = 0;
            long t0 = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(t0).TotalMilliseconds < 20) { body(); calls++; }
            t[0] = new double[11];
            t[1] = new double[11];
            for (int w = 0; w < 11; w++)
                for (int v = 0; v < 2; v++)
                {
                    Gemm.TilesEnabled = v == 1;
                    long s = Stopwatch.GetTimestamp();
                    for (int i = 0; i < calls; i++) body();
                    t[v][w] = Stopwatch.GetElapsedTime(s).TotalMicroseconds / calls;
                }
            Gemm.TilesEnabled = true;
            foreach (var a in t) Array.Sort(a);
            Console.WriteLine($"{name,-38} off {t[0][5],8:F2} {t[0][0],8:F2}   on {t[1][5],8:F2} {t[1][0],8:F2}  ({flop / t[1][0] / 1e3:F0} GFLOP/s at min)");
        }
        return 0;
    }
}

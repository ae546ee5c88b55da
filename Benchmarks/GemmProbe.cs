using System;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// <c>-- gemm M N K [tA tB] [threads]</c>: a quick Sgemm probe (median of 9 windows of about 0.1 s each), for tuning
/// without BenchmarkDotNet's minutes. Prints GFLOP/s and µs per call.
/// </summary>
public static class GemmProbe
{
    /// <summary>Runs the probe.</summary>
    public static int Run(string[] args)
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
        void Call() => Gemm.Sgemm(ta, tb, m, n, k, a, lda, b, ldb, c, n);
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
        Console.WriteLine($"gemm {m}x{n}x{k} tA={ta} tB={tb} threads={CpuFeatures.Threads}: {2.0 * m * n * k / t / 1e9:F1} GFLOP/s, {t * 1e6:F2} us (min {2.0 * m * n * k / times[0] / 1e9:F1})");
        return 0;
    }
}

using System;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Threading;

namespace ModelGen.Benchmarks;

/// <summary>
/// The machine's FP32 FMA throughput limit, measured: every core (one thread each, started together) runs a loop of
/// 12 independent register-resident FMA chains (Vector512 where accelerated, else Vector256), enough to hide the FMA
/// latency on every current x86 core. GFLOP/s = 2 · lanes · accumulators · iterations · threads / wall time.
/// </summary>
public static class FmaPeak
{
    const int Accumulators = 12;

    /// <summary>Lanes per FMA of the loop that runs here (16 or 8).</summary>
    public static int Lanes => Vector512.IsHardwareAccelerated ? 16 : 8;

    /// <summary>One measurement of all <paramref name="threads"/> threads running <paramref name="iterations"/> iterations each; GFLOP/s.</summary>
    public static double Measure(int threads, long iterations)
    {
        using var ready = new Barrier(threads + 1);
        var workers = new Thread[threads];
        var sink = new float[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                ready.SignalAndWait();
                sink[id] = Vector512.IsHardwareAccelerated ? Loop512(iterations) : Loop256(iterations);
            }) { IsBackground = true };
            workers[t].Start();
        }
        ready.SignalAndWait();
        long start = Stopwatch.GetTimestamp();
        foreach (var w in workers)
            w.Join();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        GC.KeepAlive(sink);
        return 2.0 * Lanes * Accumulators * iterations * threads / seconds / 1e9;
    }

    // AggressiveOptimization: a first call must not run tier-0 code (it is timed).
    // acc = acc · a + b converges to b / (1 − a) (no overflow, no denormals); 12 chains, no loads in the loop.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Loop512(long iterations)
    {
        var a = Vector512.Create(0.999f);
        var b = Vector512.Create(1e-3f);
        Vector512<float> c0 = Vector512.Create(0.1f), c1 = c0 + b, c2 = c1 + b, c3 = c2 + b, c4 = c3 + b, c5 = c4 + b;
        Vector512<float> c6 = c5 + b, c7 = c6 + b, c8 = c7 + b, c9 = c8 + b, c10 = c9 + b, c11 = c10 + b;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b); c1 = Vector512.FusedMultiplyAdd(c1, a, b);
            c2 = Vector512.FusedMultiplyAdd(c2, a, b); c3 = Vector512.FusedMultiplyAdd(c3, a, b);
            c4 = Vector512.FusedMultiplyAdd(c4, a, b); c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b); c7 = Vector512.FusedMultiplyAdd(c7, a, b);
            c8 = Vector512.FusedMultiplyAdd(c8, a, b); c9 = Vector512.FusedMultiplyAdd(c9, a, b);
            c10 = Vector512.FusedMultiplyAdd(c10, a, b); c11 = Vector512.FusedMultiplyAdd(c11, a, b);
        }
        return Vector512.Sum(((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)));
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Loop256(long iterations)
    {
        var a = Vector256.Create(0.999f);
        var b = Vector256.Create(1e-3f);
        Vector256<float> c0 = Vector256.Create(0.1f), c1 = c0 + b, c2 = c1 + b, c3 = c2 + b, c4 = c3 + b, c5 = c4 + b;
        Vector256<float> c6 = c5 + b, c7 = c6 + b, c8 = c7 + b, c9 = c8 + b, c10 = c9 + b, c11 = c10 + b;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, a, b); c1 = Vector256.FusedMultiplyAdd(c1, a, b);
            c2 = Vector256.FusedMultiplyAdd(c2, a, b); c3 = Vector256.FusedMultiplyAdd(c3, a, b);
            c4 = Vector256.FusedMultiplyAdd(c4, a, b); c5 = Vector256.FusedMultiplyAdd(c5, a, b);
            c6 = Vector256.FusedMultiplyAdd(c6, a, b); c7 = Vector256.FusedMultiplyAdd(c7, a, b);
            c8 = Vector256.FusedMultiplyAdd(c8, a, b); c9 = Vector256.FusedMultiplyAdd(c9, a, b);
            c10 = Vector256.FusedMultiplyAdd(c10, a, b); c11 = Vector256.FusedMultiplyAdd(c11, a, b);
        }
        return Vector256.Sum(((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)));
    }
}

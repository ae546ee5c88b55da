using System;
using System.Diagnostics;
using System.Linq;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project Benchmarks -- checks</c>: Stopwatch medians (31 windows) of the kernels whose
/// caller indices are checked before any write (issue 15): max pooling's gradient (pool1 of the samples' CNN, with the
/// argmax check alone beside it), embedding and its gradient, the broadcasting kernels; run it on two builds to compare.
/// </summary>
public static class SafetyChecks
{
    static double Median(Action a, int inner, int windows = 31)
    {
        for (int i = 0; i < inner * 3; i++) a();
        var t = new double[windows];
        for (int w = 0; w < windows; w++)
        {
            long s = Stopwatch.GetTimestamp();
            for (int i = 0; i < inner; i++) a();
            t[w] = Stopwatch.GetElapsedTime(s).TotalMilliseconds * 1000 / inner;
        }
        Array.Sort(t);
        return t[windows / 2];
    }

    /// <summary>Prints the medians in µs.</summary>
    public static int Run()
    {
        var rng = new Random(1);
        const int Planes = 2048, Tokens = 64 * 128, Vocabulary = 1000, Dim = 64;
        float[] x = Enumerable.Range(0, Planes * 784).Select(_ => (float)rng.NextDouble()).ToArray();
        float[] y = new float[Planes * 196], argmax = new float[Planes * 196], dy = new float[Planes * 196], dx = new float[Planes * 784];
        Kernels.MaxPool2d(x, y, argmax, Planes, 28, 28, 2, 2, 0);
        Console.WriteLine($"MaxPool2dBackward 2048 x 28x28 -> 14x14: {Median(() => Kernels.MaxPool2dBackward(argmax, dy, dx, Planes, 28, 28, 14, 14), 20):F1} us");
        Console.WriteLine($"  its argmax check alone ({argmax.Length} floats): {Median(() => Kernels.CheckIndices(argmax, -1, 784, "check", "argmax"), 20):F1} us");
        float[] ids = Enumerable.Range(0, Tokens).Select(_ => (float)rng.Next(Vocabulary)).ToArray();
        float[] table = new float[Vocabulary * Dim], e = new float[Tokens * Dim], de = new float[Tokens * Dim], dTable = new float[Vocabulary * Dim];
        Console.WriteLine($"Embedding 8192 ids x 64: {Median(() => Kernels.Embedding(ids, table, e, Vocabulary, Dim), 20):F1} us");
        Console.WriteLine($"EmbeddingBackward 8192 ids x 64: {Median(() => Kernels.EmbeddingBackward(ids, de, dTable, Vocabulary, Dim), 20):F1} us");
        float[] big = new float[64 * 32 * 128], small = new float[64 * 128];
        Console.WriteLine($"BroadcastTo (64,1,128) -> (64,32,128): {Median(() => Kernels.BroadcastTo(small, new[] { 64, 1, 128 }, big, new[] { 64, 32, 128 }), 50):F1} us");
        Console.WriteLine($"ReduceTo (64,32,128) -> (64,1,128): {Median(() => Kernels.ReduceTo(big, new[] { 64, 32, 128 }, small, new[] { 64, 1, 128 }), 50):F1} us");
        return 0;
    }
}

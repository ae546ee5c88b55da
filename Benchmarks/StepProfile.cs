using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// <c>-- profile [threads]</c>: a stopwatch breakdown of one MLP training step at batch 64, each part run alone with
/// the shapes and calls of the generated code (BenchMlp's HiddenForward, OutputForward, LossForward, LossBackward,
/// OutputBackward, BodyBackward, HiddenBackward), plus the batch copy-in and AdamW, next to the whole step. Median
/// and minimum µs of 15 windows.
/// </summary>
public static class StepProfile
{
    /// <summary>Runs the breakdown.</summary>
    public static int Run(string[] args)
    {
        CpuFeatures.Threads = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 2;
        const int B = 64;
        var rng = new Random(1);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        float[] x = R(B * 784), w1 = R(784 * 128), b1 = R(128), w2 = R(128 * 10), b2 = R(10);
        float[] h = new float[B * 128], logits = new float[B * 10], probs = new float[B * 10], dlogits = new float[B * 10];
        float[] dh = new float[B * 128], dz = new float[B * 128], dw1 = new float[784 * 128], db1 = new float[128];
        float[] dw2 = new float[128 * 10], db2 = new float[10], staging = new float[B * 784];
        int[] labels = Enumerable.Range(0, B).Select(i => i % 10).ToArray();
        var data = new Dataset(R(6400 * 784), new[] { 784 }, Enumerable.Range(0, 6400).Select(i => i % 10).ToArray(), 10);
        var loader = new BatchLoader(data, B, shuffle: true, seed: 1);
        loader.StartEpoch(0);
        var model = new BenchMlp(seed: 1);
        var program = model.CreateProgram(B);
        var adam = new AdamW(1e-3f);
        int batchIndex = 0;

        var parts = new List<(string Name, Action Body)>
        {
            ("BatchLoader.Load (gather 64 rows)", () => loader.Load(batchIndex++ % loader.BatchCount)),
            ("TrainStep input copy (64x784)", () => x.AsSpan().CopyTo(staging)),
            ("HiddenForward 64x128x784 +bias,relu", () => Gemm.Sgemm(false, false, B, 128, 784, x, 784, w1, 128, h, 128, b1, Activation.Relu)),
            ("OutputForward 64x10x128 +bias", () => Gemm.Sgemm(false, false, B, 10, 128, h, 128, w2, 10, logits, 10, b2)),
            ("LossForward softmax-CE 64x10", () => Kernels.SoftmaxCrossEntropy(logits, labels, B, 10, probs)),
            ("LossBackward 64x10", () => Kernels.SoftmaxCrossEntropyBackward(probs, labels, B, 10, 1f, dlogits)),
            ("OutputBackward SumRows 64x10", () => Kernels.SumRows(dlogits, B, 10, db2, false)),
            ("OutputBackward dH = dY W2^T 64x128x10", () => Gemm.Sgemm(false, true, B, 128, 10, dlogits, 10, w2, 10, dh, 128)),
            ("OutputBackward dW2 = H^T dY 128x10x64", () => Gemm.Sgemm(true, false, 128, 10, B, h, 128, dlogits, 10, dw2, 10)),
            ("BodyBackward relu grad 64x128", () => { for (int i = 0; i < dz.Length; i++) dz[i] = h[i] > 0 ? dh[i] : 0; }),
            ("HiddenBackward SumRows 64x128", () => Kernels.SumRows(dz, B, 128, db1, false)),
            ("HiddenBackward dW1 = X^T dZ 784x128x64", () => Gemm.Sgemm(true, false, 784, 128, B, x, 784, dz, 128, dw1, 128)),
            ("AdamW.Step (101,770 parameters)", () => adam.Step(model.Parameters)),
            ("whole TrainStep (generated)", () => program.TrainStep(x, labels, default, B, default)),
            ("whole TrainStep + AdamW.Step", () => { program.TrainStep(x, labels, default, B, default); adam.Step(model.Parameters); }),
        };
        Console.WriteLine($"# MLP train step breakdown, batch 64, {CpuFeatures.Threads} threads: median and min us per call over 15 windows");
        foreach (var (name, body) in parts)
        {
            for (int i = 0; i < 50; i++) body();
            long t0 = Stopwatch.GetTimestamp();
            int calls = 0;
            while (Stopwatch.GetElapsedTime(t0).TotalMilliseconds < 20) { body(); calls++; }
            var times = new double[15];
            for (int wi = 0; wi < times.Length; wi++)
            {
                long s = Stopwatch.GetTimestamp();
                for (int i = 0; i < calls; i++) body();
                times[wi] = Stopwatch.GetElapsedTime(s).TotalMicroseconds / calls;
            }
            Array.Sort(times);
            Console.WriteLine($"{name,-42} {times[times.Length / 2],9:F2} {times[0],9:F2}");
        }
        return 0;
    }
}

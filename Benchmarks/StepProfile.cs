using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using ModelGen.Cpu;

namespace ModelGen.Benchmarks;

/// <summary>
/// <c>-- profile [cnn] [threads]</c>: with <c>cnn</c>, the same for the CNN's kernels (BenchCnn); otherwise a stopwatch breakdown of one MLP training step at batch 64, each part run alone with
/// the shapes and calls of the generated code (BenchMlp's HiddenForward, OutputForward, LossForward, LossBackward,
/// OutputBackward, BodyBackward, HiddenBackward), plus the batch copy-in and AdamW, next to the whole step. Median
/// and minimum µs of 15 windows.
/// </summary>
public static class StepProfile
{
    /// <summary>Runs the breakdown.</summary>
    public static int Run(string[] args)
    {
        bool cnn = args.Length > 0 && args[0] == "cnn";
        if (cnn) args = args[1..];
        CpuFeatures.Threads = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 2;
        if (cnn)
        {
            Time($"# CNN train step breakdown, batch 64, {CpuFeatures.Threads} threads: median and min wall-clock us and median process CPU us per call over 15 windows", CnnParts());
            return 0;
        }
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
        Time($"# MLP train step breakdown, batch 64, {CpuFeatures.Threads} threads: median and min wall-clock us and median process CPU us per call over 15 windows", parts);
        return 0;
    }

    /// <summary>The kernels of BenchCnn's step at batch 64, with the generated code's shapes and calls.</summary>
    static List<(string Name, Action Body)> CnnParts()
    {
        const int B = 64;
        var rng = new Random(1);
        float[] R(int n) => Enumerable.Range(0, n).Select(_ => rng.NextSingle() - 0.5f).ToArray();
        var g1 = new Conv2dGeometry(B, 1, 28, 28, 32, Kernel: 3, Padding: 1);
        var g2 = new Conv2dGeometry(B, 32, 14, 14, 64, Kernel: 3, Padding: 1);
        float[] x = R(B * 784), w1 = R(288), b1 = R(32), y1 = new float[B * 25088], p1 = R(B * 6272), a1 = new float[B * 6272];
        float[] w2 = R(18432), b2 = R(64), y2 = new float[B * 12544], p2 = new float[B * 3136], a2 = new float[B * 3136];
        float[] ws1 = new float[Kernels.Conv2dWorkspace(g1)], ws2 = new float[Kernels.Conv2dWorkspace(g2)];
        float[] dy2 = R(B * 12544), dp1 = new float[B * 6272], dw2 = new float[18432], dy1 = R(B * 25088), dw1 = new float[288], db = new float[64];
        float[] dp2 = R(B * 3136);
        int[] labels = Enumerable.Range(0, B).Select(i => i % 10).ToArray();
        var model = new BenchCnn(seed: 1);
        var program = model.CreateProgram(B);
        var adam = new AdamW(1e-3f);
        Kernels.MaxPool2d(y2, p2, a2, 64 * B, 14, 14, 2, 2, 0);
        return new List<(string Name, Action Body)>
        {
            ("conv1 forward + ReLU (1->32, 28x28)", () => Kernels.Conv2dForward(x, w1, b1, y1, ws1, g1, Activation.Relu)),
            ("pool1 forward", () => Kernels.MaxPool2d(y1, p1, a1, 32 * B, 28, 28, 2, 2, 0)),
            ("conv2 forward + ReLU (32->64, 14x14)", () => Kernels.Conv2dForward(p1, w2, b2, y2, ws2, g2, Activation.Relu)),
            ("pool2 forward", () => Kernels.MaxPool2d(y2, p2, a2, 64 * B, 14, 14, 2, 2, 0)),
            ("pool2 backward", () => Kernels.MaxPool2dBackward(a2, dp2, dy2, 64 * B, 14, 14, 7, 7)),
            ("conv2 bias grad (ChannelSum)", () => Kernels.ChannelSum(dy2, db, B, 64, 196)),
            ("conv2 backward data", () => Kernels.Conv2dBackwardData(dy2, w2, dp1, ws2, g2)),
            ("conv2 backward weight", () => Kernels.Conv2dBackwardWeight(p1, dy2, dw2, ws2, g2)),
            ("conv1 backward weight", () => Kernels.Conv2dBackwardWeight(x, dy1, dw1, ws1, g1)),
            ("AdamW.Step (421,642 parameters)", () => adam.Step(model.Parameters)),
            ("whole TrainStep + AdamW.Step", () => { program.TrainStep(x, labels, default, B, default); adam.Step(model.Parameters); }),
        };
    }

    static void Time(string title, List<(string Name, Action Body)> parts)
    {
        Console.WriteLine(title);
        foreach (var (name, body) in parts)
        {
            for (int i = 0; i < 50; i++) body();
            long t0 = Stopwatch.GetTimestamp();
            int calls = 0;
            while (Stopwatch.GetElapsedTime(t0).TotalMilliseconds < 20) { body(); calls++; }
            var times = new double[15];
            var cpu = new double[15];
            var process = Process.GetCurrentProcess();
            for (int wi = 0; wi < times.Length; wi++)
            {
                process.Refresh();
                TimeSpan c0 = process.TotalProcessorTime;
                long s = Stopwatch.GetTimestamp();
                for (int i = 0; i < calls; i++) body();
                times[wi] = Stopwatch.GetElapsedTime(s).TotalMicroseconds / calls;
                process.Refresh();
                cpu[wi] = (process.TotalProcessorTime - c0).TotalMicroseconds / calls;
            }
            Array.Sort(times);
            Array.Sort(cpu);
            Console.WriteLine($"{name,-42} {times[times.Length / 2],9:F2} {times[0],9:F2} {cpu[cpu.Length / 2],9:F2}");
        }
    }
}

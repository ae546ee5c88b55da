using System;
using System.Diagnostics;
using System.Linq;
using CharLstmSample;
using CharTransformerSample;
using FashionMnistSample;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Gpu.Tests.Training;

/// <summary>
/// The sample models (linked into this project, where the generator also writes their GPU programs) train the same on
/// the GPU test device as on the CPU: two models of the same seed, one moved with <c>To</c>, take the same AdamW steps
/// on the same batches through <see cref="CompiledProgram.TrainBatch"/> (the step of <c>Fit</c>), and their losses,
/// correct-prediction counts and parameters agree; <c>Fit</c> gives the same epoch (checked on the MLP: the CNN's Fit
/// takes minutes on the emulator, and its steps are checked here). The emulator is slow, so the CNN and the char models
/// take one or two samples a step.
/// </summary>
/// <remarks>
/// Tolerances. Both devices compute in float32 with different summation orders (tiled GEMMs and convolutions, tree
/// reductions in shared memory, atomic scatter-adds, against the CPU's SIMD loops). At step 1 the parameters are
/// identical, so the loss may differ only by a few roundings of sums of hundreds of terms (held to relative 1e-5;
/// measured ≤ 5e-7) and every gradient tensor by the same (held to 1e-4 of the tensor's largest magnitude, as the
/// backend suite holds the compiled step to 2e-4). Later steps start from parameters that already differ by those
/// roundings passed through AdamW; their losses are held to relative 1e-4 (measured ≤ 5e-7).
/// Parameters after the steps are held to 2e-3 of each tensor's largest magnitude: an update is about lr = 1e-3 per
/// step, so a wrong update (a lost step, a stale batch row, bad moments) moves elements by ~1e-3 absolute, about 1e-2 of
/// the weights' scale. The exception is an element whose gradient was rounding noise on both devices at some step
/// (below 1e-6 of the step's largest gradient but not exactly zero on both, as the gradients of dead units and of
/// always-zero pixels are, which stay strictly held: attention's key bias, whose gradient is zero in exact arithmetic since
/// softmax ignores a shift shared by a query's scores, or an element whose terms happen to cancel). AdamW divides the
/// gradient by its own magnitude plus ε = 1e-8, so noise of either sign or size becomes a step of up to about lr: such
/// elements are held only to 2·lr per step (the CharTransformer has such elements; one token-embedding element had
/// gradients of -1.5e-8 on the CPU and -2.3e-9 on the GPU at step 1, and ended 4e-4 apart).
/// </remarks>
public sealed class SampleModelTests
{
    const float LearningRate = 1e-3f;
    const double FirstLossTolerance = 1e-5;
    const double LossTolerance = 1e-4;
    const double GradientTolerance = 1e-4;
    const double ParameterTolerance = 2e-3;
    const float NoiseGradient = 1e-6f;

    readonly ITestOutputHelper _log;

    public SampleModelTests(ITestOutputHelper log) => _log = log;

    delegate (float[] Input, int[] Labels, float[] Targets) BatchAt(int step);

    /// <summary>
    /// Runs <paramref name="steps"/> steps of <paramref name="batch"/> samples on a CPU model and a GPU model of the same
    /// seed and compares them after every step (loss, correct count), the gradients of step 1, and every parameter at
    /// the end (see the class remarks for the tolerances).
    /// </summary>
    void StepsAgree(string name, Func<ModelBase> create, BatchAt batchAt, int batch, int steps, bool classify)
    {
        var clock = Stopwatch.StartNew();
        var cpu = create();
        var gpu = create();
        Assert.Equal(cpu.Parameters.Values.ToArray(), gpu.Parameters.Values.ToArray()); // the same seed, the same start
        var initial = cpu.Parameters.Values.ToArray();
        var noise = new bool[initial.Length];
        gpu.To(GpuTestDevice.Device);
        Assert.Same(GpuTestDevice.Device, gpu.Device);
        try
        {
            using var cpuProgram = cpu.NewProgram(batch);
            using var gpuProgram = gpu.NewProgram(batch);
            Assert.Same(GpuTestDevice.Device, gpuProgram.Device);
            Assert.IsAssignableFrom<ModelGen.Gpu.GpuProgram>(gpuProgram);
            var cpuOptimizer = new AdamW(LearningRate);
            var gpuOptimizer = new AdamW(LearningRate);
            int outLength = TrainingData.OutputLength(cpu);
            var cpuOut = new float[batch * outLength];
            var gpuOut = new float[batch * outLength];
            for (int s = 0; s < steps; s++)
            {
                var (input, labels, targets) = batchAt(s);
                float cpuLoss = cpuProgram.TrainBatch(input, labels, targets, batch, cpuOptimizer, classify, cpuOut, out long cpuRight);
                float gpuLoss = gpuProgram.TrainBatch(input, labels, targets, batch, gpuOptimizer, classify, gpuOut, out long gpuRight);
                Assert.True(float.IsFinite(cpuLoss), $"{name} step {s + 1}: the CPU loss is {cpuLoss}");
                TrainingData.ScalarClose(cpuLoss, gpuLoss, s == 0 ? FirstLossTolerance : LossTolerance, 0, $"{name} step {s + 1} loss");
                Assert.Equal(cpuRight, gpuRight);
                _log.WriteLine($"{name} step {s + 1}: loss cpu {cpuLoss:R} gpu {gpuLoss:R} (rel {Math.Abs(cpuLoss - gpuLoss) / Math.Abs(cpuLoss):E2}), correct {cpuRight}");

                // The step's gradients stay in the gradient arenas (AdamW without clipping leaves them as they are).
                gpu.SyncFromDevice();
                ReadOnlySpan<float> cg = cpu.Parameters.Gradients, gg = gpu.Parameters.Gradients;
                if (s == 0)
                    foreach (var p in cpu.Parameters)
                        if (p.Info.Trainable)
                            TrainingData.ScaleClose(cg.Slice(p.Info.Offset, p.Info.Length), gg.Slice(p.Info.Offset, p.Info.Length), GradientTolerance, $"{name} step 1 gradient of {p.Name}");
                float largest = 0;
                foreach (float g in cg.Slice(0, cpu.Parameters.TrainableLength)) largest = Math.Max(largest, Math.Abs(g));
                Assert.True(largest > 0, $"{name} step {s + 1}: no gradient at all");
                float threshold = NoiseGradient * largest;
                for (int i = 0; i < cpu.Parameters.TrainableLength; i++)
                    if (Math.Abs(cg[i]) <= threshold && Math.Abs(gg[i]) <= threshold && !(cg[i] == 0 && gg[i] == 0)) noise[i] = true;
            }
            Assert.Equal(steps, gpuOptimizer.StepCount);
            Assert.NotEqual(initial, gpu.Parameters.Values.ToArray()); // the device optimizer stepped

            double worst = 0;
            string worstName = "";
            int noisy = 0, noisyMoved = 0;
            float noiseLimit = 2 * LearningRate * steps;
            foreach (var p in cpu.Parameters)
            {
                var c = cpu.Parameters.Values.Slice(p.Info.Offset, p.Info.Length);
                var g = gpu.Parameters.Values.Slice(p.Info.Offset, p.Info.Length);
                double scale = 1e-3;
                foreach (float v in c) scale = Math.Max(scale, Math.Abs(v));
                for (int i = 0; i < c.Length; i++)
                {
                    double diff = Math.Abs((double)c[i] - g[i]);
                    if (noise[p.Info.Offset + i])
                    {
                        noisy++;
                        if (diff > ParameterTolerance * scale) noisyMoved++;
                        if (!(diff <= noiseLimit))
                            Assert.Fail($"{name} after {steps} steps: {p.Name}[{i}] (a noise-gradient element): cpu {c[i]:R}, gpu {g[i]:R}, |diff| {diff:E3} > 2·lr·steps");
                        continue;
                    }
                    if (!(diff <= ParameterTolerance * scale))
                        Assert.Fail($"{name} after {steps} steps: {p.Name}[{i}]: cpu {c[i]:R}, gpu {g[i]:R} (|diff| {diff:E3} > {ParameterTolerance:E1} x scale {scale:G4})");
                    if (diff / scale > worst) (worst, worstName) = (diff / scale, p.Name);
                }
            }
            _log.WriteLine($"{name}: parameters after {steps} steps agree within {worst:E2} of scale ({worstName}); " +
                           $"{noisy} noise-gradient elements, {noisyMoved} of them beyond {ParameterTolerance:E0} of scale; {clock.Elapsed.TotalSeconds:F1} s");
        }
        finally
        {
            gpu.To(Device.Cpu); // releases the device memory
        }
    }

    [Fact]
    public void FashionMlpTrainsTheSameOnTheGpu()
    {
        var data = TrainingData.FashionFlat;
        _log.WriteLine(TrainingData.FashionSource);
        const int Batch = 8;
        StepsAgree("FashionMlp", () => new FashionMlp(seed: 11), s =>
        {
            var (x, l) = TrainingData.FashionBatch(data, s * Batch, Batch);
            return (x, l, Array.Empty<float>());
        }, Batch, steps: 3, classify: true);
    }

    /// <summary>The CNN at batch 2 for 2 steps: 15-40 s on the emulator, the most this folder spends on one model by default.</summary>
    [Fact]
    public void FashionCnnTrainsTheSameOnTheGpu()
    {
        var data = TrainingData.FashionImages;
        _log.WriteLine(TrainingData.FashionSource);
        const int Batch = 2;
        StepsAgree("FashionCnn", () => new FashionCnn(seed: 12), s =>
        {
            var (x, l) = TrainingData.FashionBatch(data, s * Batch, Batch);
            return (x, l, Array.Empty<float>());
        }, Batch, steps: 2, classify: true);
    }

    /// <summary>One window a step: the emulated GPU runs the 64-character windows slowly (about 10 s a step on 2 cores).</summary>
    [Fact]
    public void CharTransformerTrainsTheSameOnTheGpu()
    {
        const int Batch = 1;
        StepsAgree("CharTransformer", () => new CharTransformer(seed: 13), s =>
        {
            var (ids, targets) = TrainingData.CharBatch(Batch, CharTransformer.Context, seed: 100 + s);
            return (ids, Array.Empty<int>(), targets);
        }, Batch, steps: 2, classify: false);
    }

    /// <summary>One window, 2 steps: the LSTM's 64 time steps are 64 dependent launches each way, the slowest sample to emulate.</summary>
    [Fact]
    public void CharLstmTrainsTheSameOnTheGpu()
    {
        const int Batch = 1;
        StepsAgree("CharLstm", () => new CharLstm(seed: 14), s =>
        {
            var (ids, targets) = TrainingData.CharBatch(Batch, CharLstm.Context, seed: 200 + s);
            return (ids, Array.Empty<int>(), targets);
        }, Batch, steps: 2, classify: false);
    }

    /// <summary>
    /// The public <c>Fit</c> on the GPU device: one epoch of 10 images in batches of 4 (the last batch holds the remaining
    /// 2, a partial batch on a program of capacity 4) with 6 validation images gives the CPU's epoch loss and accuracy
    /// and validation loss and accuracy, and the parameters it leaves in the host store (Fit downloads them at its end)
    /// are the CPU's.
    /// </summary>
    void FitAgrees(string name, Func<ModelBase> create, Dataset data)
    {
        var subset = data.Take(10);
        var validation = data.Slice(10, 6);
        _log.WriteLine(TrainingData.FashionSource);
        var cpu = create();
        var gpu = create();
        gpu.To(GpuTestDevice.Device);
        var initial = cpu.Parameters.Values.ToArray();
        try
        {
            var clock = Stopwatch.StartNew();
            var cpuHistory = cpu.Fit(subset, epochs: 1, batchSize: 4, optimizer: new AdamW(LearningRate), validation: validation, seed: 5, verbose: false);
            var gpuOptimizer = new AdamW(LearningRate);
            var gpuHistory = gpu.Fit(subset, epochs: 1, batchSize: 4, optimizer: gpuOptimizer, validation: validation, seed: 5, verbose: false);
            Assert.Single(gpuHistory);
            Assert.Equal(3, gpuOptimizer.StepCount); // 4 + 4 + 2
            var c = cpuHistory.Last!;
            var g = gpuHistory.Last!;
            _log.WriteLine($"{name} Fit: epoch loss cpu {c.TrainLoss:R} gpu {g.TrainLoss:R}, accuracy cpu {c.TrainAccuracy} gpu {g.TrainAccuracy}; {clock.Elapsed.TotalSeconds:F1} s");
            // The epoch loss is the sample-weighted mean of the three steps' losses (held to 1e-5 and 1e-4 above).
            TrainingData.ScalarClose(c.TrainLoss, g.TrainLoss, LossTolerance, 0, $"{name} Fit epoch loss");
            Assert.Equal(c.TrainAccuracy, g.TrainAccuracy);
            // Validation after the epoch: Evaluate's inference program on the device, over the trained parameters.
            _log.WriteLine($"{name} Fit: validation loss cpu {c.ValidationLoss:R} gpu {g.ValidationLoss:R}, accuracy cpu {c.ValidationAccuracy} gpu {g.ValidationAccuracy}");
            TrainingData.ScalarClose(c.ValidationLoss!.Value, g.ValidationLoss!.Value, LossTolerance, 0, $"{name} Fit validation loss");
            Assert.Equal(c.ValidationAccuracy, g.ValidationAccuracy);
            Assert.NotEqual(initial, gpu.Parameters.Values.ToArray()); // Fit brought the trained parameters back to the host
            var (worst, worstName) = TrainingData.ParametersClose(cpu, gpu, ParameterTolerance, $"{name} after Fit");
            _log.WriteLine($"{name} Fit: parameters agree within {worst:E2} of scale ({worstName})");
        }
        finally
        {
            gpu.To(Device.Cpu);
        }
    }

    [Fact]
    public void FashionMlpFitsOneEpochTheSameOnTheGpu() => FitAgrees("FashionMlp", () => new FashionMlp(seed: 22), TrainingData.FashionFlat);
}

using System;
using System.IO;
using System.Linq;
using FashionMnistSample;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Gpu.Tests.Training;

/// <summary>
/// Checkpoints are the same files on every device: parameters trained on the GPU device, saved there and loaded into a
/// CPU model (and the other way) are the same floats and predict the same; a resumable checkpoint (with AdamW's state)
/// written on one device continues on the other as the uninterrupted run does.
/// </summary>
/// <remarks>
/// Predict compares a CPU forward pass with a GPU one over the same parameters: float32 with different summation orders
/// over at most 784 products, so 1e-5 of the logits' scale (about 1) holds with a wide margin. A resumed step compares the
/// losses of the same parameters on two devices (relative 1e-5, as the first step in <see cref="SampleModelTests"/>) and
/// the parameters after the update to 2e-3 of scale (the update is about lr = 1e-3; restoring AdamW's moments as zeros
/// or losing the step count changes it by a large fraction of that in every element).
/// </remarks>
public sealed class CheckpointTests : IDisposable
{
    const int Batch = 8;
    readonly ITestOutputHelper _log;
    readonly string _dir = Path.Combine(Path.GetTempPath(), "modelgen-gpu-ckpt-" + Guid.NewGuid().ToString("N"));

    public CheckpointTests(ITestOutputHelper log)
    {
        _log = log;
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string TempFile(string name) => Path.Combine(_dir, name + ".safetensors");

    static (float[] Input, int[] Labels) BatchAt(int step) => TrainingData.FashionBatch(TrainingData.FashionFlat, step * Batch, Batch);

    static float Train(CompiledProgram program, Optimizer optimizer, int step)
    {
        var (x, l) = BatchAt(step);
        return program.TrainBatch(x, l, default, Batch, optimizer, true, new float[Batch * 10], out _);
    }

    static Tensor Probe()
    {
        var (x, _) = TrainingData.FashionBatch(TrainingData.FashionFlat, 56, 5);
        return new Tensor(x, 5, 784);
    }

    [Fact]
    public void SavedOnTheGpuLoadsOnTheCpu()
    {
        var gpu = new FashionMlp(seed: 41);
        gpu.To(GpuTestDevice.Device);
        try
        {
            var optimizer = new AdamW(1e-3f);
            using (var program = gpu.NewProgram(Batch))
                for (int s = 0; s < 2; s++) Train(program, optimizer, s);
            string plain = TempFile("gpu-plain"), resumable = TempFile("gpu-resumable");
            gpu.Save(plain);
            gpu.Save(resumable, optimizer);
            var trained = gpu.Parameters.Values.ToArray(); // Save brought them to the host store
            var gpuPrediction = gpu.Predict(Probe());

            foreach (string path in new[] { plain, resumable })
            {
                var cpu = new FashionMlp(seed: 42); // other initial values: Load must replace them all
                Assert.NotEqual(trained, cpu.Parameters.Values.ToArray());
                cpu.Load(path); // a resumable file loads as parameters only too
                Assert.Equal(trained, cpu.Parameters.Values.ToArray());
                var cpuPrediction = cpu.Predict(Probe());
                Assert.Equal(gpuPrediction.GetShape(), cpuPrediction.GetShape());
                double worst = TrainingData.ScaleClose(cpuPrediction.Data, gpuPrediction.Data, 1e-5, $"Predict after loading {Path.GetFileName(path)}");
                _log.WriteLine($"{Path.GetFileName(path)}: CPU and GPU predictions within {worst:E2} of scale");
            }
        }
        finally
        {
            gpu.To(Device.Cpu);
        }
    }

    [Fact]
    public void SavedOnTheCpuLoadsOnTheGpu()
    {
        var cpu = new FashionMlp(seed: 43);
        var optimizer = new AdamW(1e-3f);
        using (var program = cpu.NewProgram(Batch))
            for (int s = 0; s < 2; s++) Train(program, optimizer, s);
        string path = TempFile("cpu-plain");
        cpu.Save(path);
        var cpuPrediction = cpu.Predict(Probe());

        var gpu = new FashionMlp(seed: 44);
        gpu.To(GpuTestDevice.Device);
        try
        {
            var before = gpu.Predict(Probe()); // an eval program exists already: Load must reach the device arena it reads
            gpu.Load(path);
            var gpuPrediction = gpu.Predict(Probe());
            Assert.NotEqual(before.ToArray(), gpuPrediction.ToArray());
            double worst = TrainingData.ScaleClose(cpuPrediction.Data, gpuPrediction.Data, 1e-5, "GPU Predict after loading the CPU's file");
            _log.WriteLine($"CPU file on the GPU: predictions within {worst:E2} of scale");
            gpu.SyncFromDevice();
            Assert.Equal(cpu.Parameters.Values.ToArray(), gpu.Parameters.Values.ToArray());
        }
        finally
        {
            gpu.To(Device.Cpu);
        }
    }

    /// <summary>
    /// Two steps on the GPU device, <c>Save(path, optimizer)</c>; a new CPU model and a new AdamW <c>Load(path, optimizer)</c>;
    /// then both take step 3 on the same batch: the same loss, and the same parameters after it (AdamW's moments and step
    /// count came across). A third model stays on the GPU, keeps its optimizer, and is the uninterrupted run.
    /// </summary>
    [Fact]
    public void AResumableCheckpointFromTheGpuContinuesOnTheCpu()
    {
        var gpu = new FashionMlp(seed: 45);
        gpu.To(GpuTestDevice.Device);
        try
        {
            var gpuOptimizer = new AdamW(1e-3f);
            using var gpuProgram = gpu.NewProgram(Batch);
            for (int s = 0; s < 2; s++) Train(gpuProgram, gpuOptimizer, s);
            string path = TempFile("gpu-resume");
            gpu.Save(path, gpuOptimizer);

            var cpu = new FashionMlp(seed: 46);
            var cpuOptimizer = new AdamW(1e-3f);
            cpu.Load(path, cpuOptimizer);
            Assert.Equal(2, cpuOptimizer.StepCount);
            using var cpuProgram = cpu.NewProgram(Batch);

            float gpuLoss = Train(gpuProgram, gpuOptimizer, 2);
            float cpuLoss = Train(cpuProgram, cpuOptimizer, 2);
            _log.WriteLine($"step 3: GPU (uninterrupted) {gpuLoss:R}, CPU (resumed) {cpuLoss:R}");
            TrainingData.ScalarClose(gpuLoss, cpuLoss, 1e-5, 0, "the resumed step's loss");
            gpu.SyncFromDevice();
            var (worst, worstName) = TrainingData.ParametersClose(gpu, cpu, 2e-3, "after the resumed step");
            _log.WriteLine($"parameters after the resumed step within {worst:E2} of scale ({worstName})");
            ResumedStateMatters(path, gpu);
        }
        finally
        {
            gpu.To(Device.Cpu);
        }
    }

    /// <summary>
    /// The check above can fail: a CPU model that loads only the parameters (a fresh AdamW, zero moments, step 1) ends
    /// step 3 elsewhere than the uninterrupted run, beyond the tolerance.
    /// </summary>
    static void ResumedStateMatters(string path, ModelBase uninterrupted)
    {
        var cpu = new FashionMlp(seed: 46);
        cpu.Load(path);
        using var program = cpu.NewProgram(Batch);
        Train(program, new AdamW(1e-3f), 2);
        Assert.ThrowsAny<Exception>(() => TrainingData.ParametersClose(uninterrupted, cpu, 2e-3, "fresh optimizer"));
    }

    /// <summary>
    /// The other way: two steps on the CPU, <c>Save(path, optimizer)</c>; a new GPU model and a new AdamW load it (the
    /// AdamW has no device state yet: its first step there uploads the loaded moments); step 3 on both agrees.
    /// Then the GPU model rewinds: two more steps, <c>Load(path, optimizer)</c> with the same AdamW (whose device state
    /// now exists and must be overwritten), and step 3 again gives the same loss and parameters.
    /// </summary>
    [Fact]
    public void AResumableCheckpointFromTheCpuContinuesOnTheGpu()
    {
        var cpu = new FashionMlp(seed: 47);
        var cpuOptimizer = new AdamW(1e-3f);
        using var cpuProgram = cpu.NewProgram(Batch);
        for (int s = 0; s < 2; s++) Train(cpuProgram, cpuOptimizer, s);
        string path = TempFile("cpu-resume");
        cpu.Save(path, cpuOptimizer);
        float cpuLoss = Train(cpuProgram, cpuOptimizer, 2);

        var gpu = new FashionMlp(seed: 48);
        gpu.To(GpuTestDevice.Device);
        try
        {
            var gpuOptimizer = new AdamW(1e-3f);
            gpu.Load(path, gpuOptimizer);
            using var gpuProgram = gpu.NewProgram(Batch);
            float gpuLoss = Train(gpuProgram, gpuOptimizer, 2);
            Assert.Equal(3, gpuOptimizer.StepCount);
            TrainingData.ScalarClose(cpuLoss, gpuLoss, 1e-5, 0, "the resumed step's loss on the GPU");
            gpu.SyncFromDevice();
            var afterStep3 = gpu.Parameters.Values.ToArray();
            var (worst, worstName) = TrainingData.ParametersClose(cpu, gpu, 2e-3, "after the resumed step on the GPU");
            _log.WriteLine($"step 3: CPU {cpuLoss:R}, GPU (resumed) {gpuLoss:R}; parameters within {worst:E2} of scale ({worstName})");

            // Rewind on the same device with the same optimizer.
            for (int s = 3; s < 5; s++) Train(gpuProgram, gpuOptimizer, s);
            gpu.Load(path, gpuOptimizer);
            Assert.Equal(2, gpuOptimizer.StepCount);
            float again = Train(gpuProgram, gpuOptimizer, 2);
            TrainingData.ScalarClose(gpuLoss, again, 1e-6, 0, "step 3 after rewinding on the GPU");
            gpu.SyncFromDevice();
            TrainingData.ScaleClose(afterStep3, gpu.Parameters.Values, 1e-6, "parameters after step 3, rewound");
        }
        finally
        {
            gpu.To(Device.Cpu);
        }
    }

    /// <summary>
    /// <c>To</c> in the middle of training carries the optimizer's state along: two AdamW steps on the GPU device, then
    /// <c>To(Device.Cpu)</c> (the session hands the device moments back to the AdamW) and step 3 on the CPU equals step 3
    /// of a twin that stays on the GPU; and two steps on the CPU, then <c>To(gpu)</c> (the device optimizer starts from
    /// the AdamW's host moments) and step 3 there equals step 3 of a twin that stays on the CPU.
    /// </summary>
    [Fact]
    public void MovingMidTrainingKeepsTheOptimizerState()
    {
        var device = GpuTestDevice.Device;
        foreach (bool fromGpu in new[] { true, false })
        {
            var moved = new FashionMlp(seed: 49);
            var stays = new FashionMlp(seed: 49);
            Device first = fromGpu ? device : Device.Cpu, second = fromGpu ? Device.Cpu : device;
            moved.To(first);
            stays.To(first);
            try
            {
                var movedOptimizer = new AdamW(1e-3f);
                var staysOptimizer = new AdamW(1e-3f);
                using var staysProgram = stays.NewProgram(Batch);
                using (var program = moved.NewProgram(Batch))
                    for (int s = 0; s < 2; s++)
                        Assert.Equal(Train(staysProgram, staysOptimizer, s), Train(program, movedOptimizer, s));
                moved.To(second);
                using var movedProgram = moved.NewProgram(Batch);
                float expected = Train(staysProgram, staysOptimizer, 2);
                float loss = Train(movedProgram, movedOptimizer, 2);
                Assert.Equal(3, movedOptimizer.StepCount);
                string what = fromGpu ? "step 3 on the CPU after 2 on the GPU" : "step 3 on the GPU after 2 on the CPU";
                TrainingData.ScalarClose(expected, loss, 1e-5, 0, what + ": loss");
                stays.To(Device.Cpu);
                moved.To(Device.Cpu);
                var (worst, worstName) = TrainingData.ParametersClose(stays, moved, 2e-3, what);
                _log.WriteLine($"{what}: loss {loss:R} vs {expected:R}, parameters within {worst:E2} of scale ({worstName})");
            }
            finally
            {
                moved.To(Device.Cpu);
                stays.To(Device.Cpu);
            }
        }
    }
}

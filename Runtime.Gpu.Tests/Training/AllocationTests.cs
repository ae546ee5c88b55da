using System;
using System.Linq;
using FashionMnistSample;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Gpu.Tests.Training;

/// <summary>
/// A GPU program allocates its device memory once: after the first step (which also creates the optimizer's device
/// state) further steps, and smaller batches on the same program, add no device buffer (<see cref="GpuDevice.Allocations"/>);
/// a batch smaller than the program's capacity gives the step a program of exactly that capacity gives; and the
/// steady-state step allocates nothing on the host on the CPU.
/// </summary>
public sealed class AllocationTests
{
    const int Capacity = 8;
    readonly ITestOutputHelper _log;

    public AllocationTests(ITestOutputHelper log) => _log = log;

    static (float[] Input, int[] Labels) Batch(int start, int count) => TrainingData.FashionBatch(TrainingData.FashionFlat, start, count);

    [Fact]
    public void SteadyStateStepsAllocateNoDeviceMemory()
    {
        var device = GpuTestDevice.Device;
        var model = new FashionMlp(seed: 31);
        model.To(device);
        try
        {
            using var program = model.NewProgram(Capacity);
            var optimizer = new AdamW(1e-3f);
            var (x, l) = Batch(0, Capacity);
            var outputs = new float[Capacity * 10];
            program.TrainBatch(x, l, default, Capacity, optimizer, true, outputs, out _); // warm-up: the optimizer's device state
            long before = device.Allocations;
            float first = float.NaN, last = float.NaN;
            for (int s = 0; s < 5; s++)
            {
                (x, l) = Batch(Capacity * (s % 4), Capacity);
                float loss = program.TrainBatch(x, l, default, Capacity, optimizer, true, outputs, out _);
                if (s == 0) first = loss;
                last = loss;
            }
            Assert.Equal(before, device.Allocations);
            Assert.True(float.IsFinite(first) && float.IsFinite(last));
            _log.WriteLine($"5 steps: {device.Allocations - before} device allocations; loss {first} → {last}");

            // The same program with a smaller batch: nothing new either.
            (x, l) = Batch(40, 3);
            program.TrainBatch(x, l, default, 3, optimizer, true, outputs.AsSpan(0, 30), out _);
            Assert.Equal(before, device.Allocations);
        }
        finally
        {
            model.To(Device.Cpu);
        }
    }

    /// <summary>
    /// A step of 3 samples on a program of capacity 8, whose input, label and activation rows 3..7 still hold the
    /// previous batch of 8, equals the step of a fresh program of capacity 3 from the same model and optimizer state:
    /// nothing reads the rows beyond the batch. Both run on the same device with the same kernels for the same
    /// batch, so the agreement is to rounding (1e-6 of scale; in practice bit for bit).
    /// </summary>
    [Fact]
    public void ASmallerBatchOnALargerProgramEqualsAProgramOfThatSize()
    {
        var device = GpuTestDevice.Device;
        var big = new FashionMlp(seed: 32);
        var exact = new FashionMlp(seed: 32);
        big.To(device);
        exact.To(device);
        try
        {
            var (x8, l8) = Batch(0, Capacity);
            var (x3, l3) = Batch(50, 3);
            var bigOptimizer = new AdamW(1e-3f);
            var exactOptimizer = new AdamW(1e-3f);
            var outputs = new float[Capacity * 10];
            using var bigProgram = big.NewProgram(Capacity);
            using (var warm = exact.NewProgram(Capacity))
            {
                // Both models take the same step of 8, so that the parameters and AdamW's moments are the same.
                float a = bigProgram.TrainBatch(x8, l8, default, Capacity, bigOptimizer, true, outputs, out _);
                float b = warm.TrainBatch(x8, l8, default, Capacity, exactOptimizer, true, outputs, out _);
                Assert.Equal(a, b);
            }
            long before = device.Allocations;
            float bigLoss = bigProgram.TrainBatch(x3, l3, default, 3, bigOptimizer, true, outputs.AsSpan(0, 30), out long bigRight);
            Assert.Equal(before, device.Allocations);

            using var exactProgram = exact.NewProgram(3);
            Assert.True(device.Allocations > before); // a new program has its own arena and batch buffers
            float exactLoss = exactProgram.TrainBatch(x3, l3, default, 3, exactOptimizer, true, outputs.AsSpan(0, 30), out long exactRight);

            _log.WriteLine($"batch 3: loss on capacity 8 {bigLoss:R}, on capacity 3 {exactLoss:R}; correct {bigRight} / {exactRight}");
            TrainingData.ScalarClose(exactLoss, bigLoss, 1e-6, 0, "the loss of 3 samples on a program of capacity 8");
            Assert.Equal(exactRight, bigRight);
            big.SyncFromDevice();
            exact.SyncFromDevice();
            TrainingData.ParametersClose(exact, big, 1e-6, "parameters after the step of 3");
            TrainingData.ScaleClose(exact.Parameters.Gradients, big.Parameters.Gradients, 1e-6, "gradients of the step of 3");

            // Inference of 3 samples on each program: the same logits.
            var bigLogits = new float[30];
            var exactLogits = new float[30];
            bigProgram.Infer(x3, 3, bigLogits);
            exactProgram.Infer(x3, 3, exactLogits);
            TrainingData.ScaleClose(exactLogits, bigLogits, 1e-6, "Infer of 3 samples");
        }
        finally
        {
            big.To(Device.Cpu);
            exact.To(Device.Cpu);
        }
    }

    /// <summary>
    /// Host allocations of the steady-state step (GC.GetAllocatedBytesForCurrentThread over 5 steps after 2 warm-up
    /// steps). On the CPU the generated step, the optimizer and the metric allocate nothing: asserted zero. The GPU
    /// program allocates nothing per step either (its device buffers, page-locked staging and kernels are made once),
    /// but ILGPU's CPU accelerator does: each kernel launch creates a task object that carries the launch's arguments to
    /// the accelerator's worker threads (96 bytes per launch, measured), and each page-locked copy 80 bytes. The MLP's
    /// step of 8 (forward, loss, backward, AdamW, the correct count, four copies) measured 3,288 bytes on
    /// gpu-emulator:0. That is ILGPU's, not ours, so on the GPU device the bytes are only reported, not asserted.
    /// </summary>
    [Fact]
    public void SteadyStateStepAllocatesNothingOnTheHostOnTheCpu()
    {
        long cpuBytes = HostBytesPerStep(Device.Cpu);
        _log.WriteLine($"host bytes per steady-state step: cpu {cpuBytes}");
        Assert.Equal(0, cpuBytes);

        long gpuBytes = HostBytesPerStep(GpuTestDevice.Device);
        _log.WriteLine($"host bytes per steady-state step: {GpuTestDevice.Device.Id} {gpuBytes}");
    }

    static long HostBytesPerStep(Device device)
    {
        var model = new FashionMlp(seed: 33);
        model.To(device);
        try
        {
            using var program = model.NewProgram(Capacity);
            var optimizer = new AdamW(1e-3f);
            var (x, l) = Batch(0, Capacity);
            var outputs = new float[Capacity * 10];
            for (int s = 0; s < 2; s++) program.TrainBatch(x, l, default, Capacity, optimizer, true, outputs, out _);
            const int Steps = 5;
            long start = GC.GetAllocatedBytesForCurrentThread();
            for (int s = 0; s < Steps; s++) program.TrainBatch(x, l, default, Capacity, optimizer, true, outputs, out _);
            long bytes = GC.GetAllocatedBytesForCurrentThread() - start;
            return bytes / Steps;
        }
        finally
        {
            model.To(Device.Cpu);
        }
    }
}

using System;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;
using static ModelGen.Ops;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>The 784-128-10 MLP of the sample, compiled here for the allocation tests.</summary>
[Model]
public partial class AllocationMlp
{
    readonly Linear hidden = new(784, 128);
    readonly Linear output = new(128, 10);

    [Forward] public Tensor Forward([Shape(784)] Tensor image) => output.Forward(Relu(hidden.Forward(image)));

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

/// <summary>
/// The steady state allocates nothing: after 3 warm-up steps, 20 generated TrainStep + optimizer steps (AdamW, and
/// Sgd with momentum), and 20 Infer calls at batch 1 and 64, allocate 0 bytes on the calling thread (the least of three
/// such windows)
/// (GC.GetAllocatedBytesForCurrentThread). The batch of 64 is large enough for the GEMMs to use the worker pool.
/// </summary>
[Collection(CpuSettingsCollection.Name)] // other tests force SIMD levels process-wide
public sealed class AllocationTests
{
    const int Batch = 64;

    static (AllocationMlp Model, CompiledProgram Program, float[] X, int[] Labels) Setup()
    {
        var model = new AllocationMlp(seed: 3);
        var program = model.CreateProgram(Batch);
        var rng = new Random(11);
        var x = new float[Batch * 784];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        var labels = new int[Batch];
        for (int i = 0; i < labels.Length; i++) labels[i] = rng.Next(10);
        return (model, program, x, labels);
    }

    /// <summary>
    /// Bytes allocated by 20 steps after 3 warm-up steps, as the least of three consecutive windows: a one-time lazy
    /// initialization on a path that only timing takes (the first time the caller finds the worker pool busy, say)
    /// can fall into any one window on a loaded machine, while an allocation per step shows in all three.
    /// </summary>
    static long AllocatedBy(Action step)
    {
        for (int i = 0; i < 3; i++) step();
        long least = long.MaxValue;
        for (int window = 0; window < 3; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 20; i++) step();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }

    [Fact]
    public void TrainStepWithAdamWAllocatesNothing()
    {
        var (model, program, x, labels) = Setup();
        var optimizer = new AdamW(1e-3f);
        var output = new float[Batch * 10];
        float loss = 0;
        long allocated = AllocatedBy(() =>
        {
            loss = program.TrainStep(x, labels, default, Batch, output);
            optimizer.Step(model.Parameters);
        });
        Assert.Equal(0, allocated);
        Assert.True(float.IsFinite(loss));
    }

    [Fact]
    public void TrainStepWithSgdAllocatesNothing()
    {
        var (model, program, x, labels) = Setup();
        var optimizer = new Sgd(0.01f, momentum: 0.9f, nesterov: true, weightDecay: 1e-4f);
        long allocated = AllocatedBy(() =>
        {
            program.TrainStep(x, labels, default, Batch, default);
            optimizer.Step(model.Parameters);
        });
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void InferAllocatesNothing()
    {
        var (_, program, x, _) = Setup();
        var output = new float[Batch * 10];
        long allocated = AllocatedBy(() =>
        {
            program.Infer(x.AsSpan(0, 784), 1, output.AsSpan(0, 10));
            program.Infer(x, Batch, output);
        });
        Assert.Equal(0, allocated);
    }
}

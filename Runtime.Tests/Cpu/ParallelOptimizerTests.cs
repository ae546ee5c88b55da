using System;
using ModelGen.Cpu;
using ModelGen.Runtime.Tests.Compiled;
using Xunit;

namespace ModelGen.Runtime.Tests.Cpu;

/// <summary>AdamW over a large arena runs in chunks on the worker pool; the result is bit for bit that of one thread.</summary>
[Collection(CpuSettingsCollection.Name)]
public sealed class ParallelOptimizerTests
{
    static float[] Train(int threads)
    {
        int saved = CpuFeatures.Threads;
        try
        {
            CpuFeatures.Threads = threads;
            var model = new AllocationMlp(seed: 5);   // 101,770 parameters: above the parallel threshold
            var program = model.CreateProgram(16);
            var rng = new Random(2);
            var x = new float[16 * 784];
            for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
            var labels = new int[16];
            for (int i = 0; i < labels.Length; i++) labels[i] = rng.Next(10);
            var adam = new AdamW(1e-2f, weightDecay: 0.1f);
            for (int step = 0; step < 4; step++)
            {
                // The gradients on one thread, so that only the optimizer differs between the two runs.
                CpuFeatures.Threads = 1;
                program.TrainStep(x, labels, default, 16, default);
                CpuFeatures.Threads = threads;
                adam.Step(model.Parameters);
            }
            return model.Parameters.Values.ToArray();
        }
        finally
        {
            CpuFeatures.Threads = saved;
        }
    }

    [Fact]
    public void AdamWOnTheWorkerPoolMatchesOneThreadBitForBit()
    {
        float[] one = Train(1), many = Train(3);
        Assert.Equal(one.Length, many.Length);
        for (int i = 0; i < one.Length; i++)
            Assert.Equal(BitConverter.SingleToInt32Bits(one[i]), BitConverter.SingleToInt32Bits(many[i]));
    }
}

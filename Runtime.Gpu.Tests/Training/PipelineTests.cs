using System;
using FashionMnistSample;
using Xunit;

namespace ModelGen.Gpu.Tests.Training;

/// <summary>
/// <c>Fit</c>'s pipelined step on the GPU device: <see cref="CompiledProgram.BeginTrainBatch"/> queues a step and
/// returns, the caller refills its batch buffers with the next batch while the device runs, then
/// <see cref="CompiledProgram.EndTrainBatch"/> reads the loss and the count. The step must have taken its batch before
/// Begin returned (into the program's staging buffers), so refilling (here: with NaN, then the next batch) changes
/// nothing: the losses and parameters equal those of plain <see cref="CompiledProgram.TrainBatch"/> calls with their
/// own arrays, bit for bit (the same device and kernels).
/// </summary>
public sealed class PipelineTests
{
    const int Batch = 8;

    [Fact]
    public void RefillingTheBatchWhileTheStepRunsChangesNothing()
    {
        var plain = new FashionMlp(seed: 61);
        var piped = new FashionMlp(seed: 61);
        plain.To(GpuTestDevice.Device);
        piped.To(GpuTestDevice.Device);
        try
        {
            using var plainProgram = plain.NewProgram(Batch);
            using var pipedProgram = piped.NewProgram(Batch);
            var plainOptimizer = new AdamW(1e-3f);
            var pipedOptimizer = new AdamW(1e-3f);
            var outputs = new float[Batch * 10];

            var input = new float[Batch * 784];
            var labels = new int[Batch];
            void Gather(int step)
            {
                var (x, l) = TrainingData.FashionBatch(TrainingData.FashionFlat, step * Batch, Batch);
                x.CopyTo(input, 0);
                l.CopyTo(labels, 0);
            }

            Gather(0);
            for (int s = 0; s < 4; s++)
            {
                var (x, l) = TrainingData.FashionBatch(TrainingData.FashionFlat, s * Batch, Batch);
                float expected = plainProgram.TrainBatch(x, l, default, Batch, plainOptimizer, true, outputs, out long expectedRight);

                pipedProgram.BeginTrainBatch(input, labels, default, Batch, pipedOptimizer, true, outputs);
                Array.Fill(input, float.NaN); // what a racing copy would read
                Array.Fill(labels, 9);
                Gather(s + 1);
                float loss = pipedProgram.EndTrainBatch(out long right);

                Assert.Equal(expected, loss);
                Assert.Equal(expectedRight, right);
            }
            plain.SyncFromDevice();
            piped.SyncFromDevice();
            Assert.Equal(plain.Parameters.Values.ToArray(), piped.Parameters.Values.ToArray());
        }
        finally
        {
            plain.To(Device.Cpu);
            piped.To(Device.Cpu);
        }
    }
}

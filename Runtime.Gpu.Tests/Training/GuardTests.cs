using System;
using System.Linq;
using ModelGen.Runtime.Tests.Compiled;
using Xunit;

namespace ModelGen.Gpu.Tests.Training;

/// <summary>
/// The training guards on the GPU device: a BatchNorm1d model's step refuses a batch of one (and <c>Fit</c> leaves a
/// last batch of one out, as on the CPU); a non-finite loss stops <c>Fit</c>, saying that the step ran on the device.
/// </summary>
public sealed class GuardTests
{
    [Fact]
    public void A_BatchNorm1d_model_on_the_gpu_refuses_a_batch_of_one_and_Fit_leaves_it_out_as_on_the_cpu()
    {
        var data = BatchNormMlpModel.Classes(17, 1);
        var cpu = new BatchNormMlpModel(seed: 2);
        var cpuHistory = cpu.Fit(data, epochs: 1, batchSize: 16, optimizer: new Sgd(0.1f), seed: 5, verbose: false);
        var gpu = new BatchNormMlpModel(seed: 2);
        gpu.To(GpuTestDevice.Device);
        try
        {
            using (var program = gpu.NewProgram(4))
            {
                var ex = Assert.Throws<ArgumentException>(() => program.TrainStep(new float[13], new[] { 1 }, default, 1, new float[5]));
                Assert.Contains("more than one value per channel", ex.Message);
            }
            var history = gpu.Fit(data, epochs: 1, batchSize: 16, optimizer: new Sgd(0.1f), seed: 5, verbose: false);
            Assert.Equal(1, history[0].SamplesLeftOut);
            Assert.Equal(cpuHistory[0].SamplesLeftOut, history[0].SamplesLeftOut);
            foreach (string name in new[] { "norm.running_mean", "norm.running_var" })
            {
                var expected = cpu.Parameters[name].Value.ToArray();
                var actual = gpu.Parameters[name].Value.ToArray();
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * (1 + Math.Abs(expected[i])), $"{name}[{i}]: cpu {expected[i]}, gpu {actual[i]}");
            }
        }
        finally
        {
            gpu.To(Device.Cpu);
        }
    }

    [Fact]
    public void Fit_on_the_gpu_stops_at_a_NaN_loss_and_says_the_step_ran()
    {
        var data = BatchNormMlpModel.Classes(8, 3);
        data.Features[3 * 13 + 4] = float.NaN;
        var model = new BatchNormMlpModel(seed: 2);
        model.To(GpuTestDevice.Device);
        try
        {
            var ex = Assert.Throws<NotFiniteNumberException>(() => model.Fit(data, epochs: 2, batchSize: 8, optimizer: new Sgd(0.1f), verbose: false));
            Assert.Contains("epoch 1, step 1 of 1: the training loss is NaN", ex.Message);
            Assert.Contains("before its loss was read, so the parameters took its update", ex.Message);
            Assert.Contains("sample 3 has feature 4 = NaN", ex.Message);
        }
        finally
        {
            model.To(Device.Cpu);
        }
    }
}

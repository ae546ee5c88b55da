using System;
using System.Linq;
using ModelGen.Cpu;
using ModelGen.Runtime.Tests.Compiled;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;
using static ModelGen.Ops;

namespace ModelGen.Runtime.Tests.Normalization;

/// <summary>BatchNorm2d over 1×1 positions: one value per channel per sample, as BatchNorm1d.</summary>
[Model]
public partial class BatchNorm2dOnePositionModel
{
    readonly BatchNorm2d norm = new(3);
    [Parameter(3, 1, 1, Init = Init.HeNormal)] public partial Tensor Scale { get; }

    [Forward] public Tensor Forward([Shape(3, 1, 1)] Tensor x) => Silu(norm.Forward(x)) * Scale;

    [Loss] public Tensor Loss(Tensor y, Tensor target) => L1Loss(y, target);
}

/// <summary>
/// Batch normalization in training needs more than one value per channel (PyTorch's rule): with one, the variance is 0,
/// every output is the bias, the weight gets no gradient and the running variance shrinks. The kernels of the compiled
/// path and the eager layer refuse it; <c>Fit</c> leaves out a last batch of one sample (and says so) and refuses a
/// batch size of one. (The GPU kernels' twin is in Runtime.Gpu.Tests.)
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public class BatchOfOneTests
{
    static float[] State(ModelBase m, string name) => m.Parameters[name].Value.ToArray();

    [Fact]
    public void The_description_says_which_models_need_two_samples_per_training_batch()
    {
        Assert.Equal(2, new BatchNormMlpModel().Description.MinTrainingBatch);            // BatchNorm1d
        Assert.Equal(2, new BatchNorm2dOnePositionModel().Description.MinTrainingBatch);  // BatchNorm2d over 1×1
        Assert.Equal(1, new BatchNorm2dModel().Description.MinTrainingBatch);             // 5×6 positions per channel
        Assert.Equal(1, new DropoutModel().Description.MinTrainingBatch);                 // no batch normalization
    }

    [Fact]
    public void Fit_leaves_out_a_last_batch_of_one_and_the_running_statistics_are_those_of_the_full_batch()
    {
        var data = BatchNormMlpModel.Classes(17, 1);
        var model = new BatchNormMlpModel(seed: 2);
        var history = model.Fit(data, epochs: 1, batchSize: 16, optimizer: new Sgd(0.1f), seed: 5, verbose: false);

        // The same first batch of 16 (the loader's order for seed 5, epoch 0), stepped alone.
        var reference = new BatchNormMlpModel(seed: 2);
        var loader = new BatchLoader(data, 16, shuffle: true, seed: 5);
        loader.StartEpoch(0);
        int n = loader.Load(0);
        using var program = reference.NewProgram(16);
        program.TrainStep(loader.Input, loader.Labels, default, n, new float[n * 5]);

        Assert.Equal(State(reference, "norm.running_mean"), State(model, "norm.running_mean"));
        Assert.Equal(State(reference, "norm.running_var"), State(model, "norm.running_var"));
        Assert.Equal(1, history[0].SamplesLeftOut);
        Assert.Contains("(1 sample left out: batch normalization cannot train on a last batch of 1)", history[0].ToString());
    }

    [Fact]
    public void Fit_keeps_a_last_batch_of_one_when_the_channels_have_several_positions()
    {
        var rng = new Random(3);
        var x = new float[17 * 90].Select(_ => (float)rng.NextDouble()).ToArray();
        var t = new float[17 * 90].Select(_ => (float)rng.NextDouble()).ToArray();
        var data = new Dataset(x, new[] { 3, 5, 6 }, t, new[] { 3, 5, 6 });
        var history = new BatchNorm2dModel(seed: 4).Fit(data, epochs: 1, batchSize: 16, optimizer: new Sgd(0.01f), verbose: false);
        Assert.Equal(0, history[0].SamplesLeftOut);
        Assert.DoesNotContain("left out", history[0].ToString());
    }

    [Fact]
    public void Fit_refuses_a_batch_size_or_a_training_set_of_one()
    {
        var model = new BatchNormMlpModel(seed: 2);
        var ex = Assert.Throws<ArgumentException>(() => model.Fit(BatchNormMlpModel.Classes(10, 1), epochs: 1, batchSize: 1, verbose: false));
        Assert.Equal("batchSize", ex.ParamName);
        Assert.Contains("at least 2 samples per training batch", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => model.Fit(BatchNormMlpModel.Classes(1, 1), epochs: 1, batchSize: 8, verbose: false));
        Assert.Equal("train", ex.ParamName);
        Assert.Contains("the training set has 1 sample", ex.Message);
        Assert.Equal(new float[17], State(model, "norm.running_mean"));   // nothing ran
    }

    [Fact]
    public void The_compiled_training_step_refuses_a_batch_of_one_and_leaves_the_running_statistics()
    {
        foreach (var model in new ModelBase[] { new BatchNormMlpModel(seed: 2), new BatchNorm2dOnePositionModel(seed: 2) })
        {
            var before = model.Parameters.Values.ToArray();
            using var program = model.NewProgram(4);
            int inLength = model.Description.InputShape.Aggregate(1, (a, b) => a * b);
            int outLength = model.Description.OutputShape.Aggregate(1, (a, b) => a * b);
            var labels = model.Description.Target == TargetKind.Labels ? new[] { 1 } : Array.Empty<int>();
            var targets = model.Description.Target == TargetKind.Tensor ? new float[outLength] : Array.Empty<float>();
            var ex = Assert.Throws<ArgumentException>(() => program.TrainStep(Enumerable.Repeat(0.5f, inLength).ToArray(), labels, targets, 1, new float[outLength]));
            Assert.Contains("more than one value per channel", ex.Message);
            Assert.Equal(before, model.Parameters.Values.ToArray());
        }
    }

    [Fact]
    public void The_cpu_kernels_refuse_one_value_per_channel_and_accept_one_sample_with_several_positions()
    {
        var stats = new float[6];
        var ex = Assert.Throws<ArgumentException>(() => Kernels.BatchNormForward(new float[] { 1, 2 }, new float[] { 1, 1 }, new float[2], new float[2], stats, 1, 2, 1, 1e-5f));
        Assert.Contains("BatchNormForward", ex.Message);
        Assert.Throws<ArgumentException>(() => Kernels.BatchNormUpdateRunning(stats, new float[2], new float[] { 1, 1 }, 2, 1, 0.1f));
        Assert.Throws<ArgumentException>(() => Kernels.BatchNormUpdateRunning(stats, new float[2], new float[] { 1, 1 }, 2, 0, 0.1f));

        // One sample of 2 positions per channel is a real batch statistic.
        var y = new float[4];
        Kernels.BatchNormForward(new float[] { 1, 3, 5, 9 }, new float[] { 1, 1 }, new float[2], y, stats, 1, 2, 2, 0f);
        Assert.Equal(new[] { 2f, 7f }, stats.AsSpan(0, 2).ToArray());
        Assert.Equal(new[] { -1f, 1f, -1f, 1f }, y);
    }

    [Fact]
    public void The_eager_layers_refuse_a_batch_of_one_in_training_only()
    {
        var bn1 = new BatchNorm1d(3);
        var ex = Assert.Throws<ArgumentException>(() => bn1.Forward(new Tensor(new float[] { 1, 2, 3 }, 1, 3)));
        Assert.Contains("BatchNorm1d", ex.Message);
        Assert.Equal(new float[] { 1, 1, 1 }, bn1.RunningVar.ToArray());
        bn1.Mode.Training = false;
        Assert.Equal(new float[] { 1, 2, 3 }, bn1.Forward(new Tensor(new float[] { 1, 2, 3 }, 1, 3)).ToArray().Select(v => MathF.Round(v, 3)).ToArray());

        var bn2 = new BatchNorm2d(2);
        Assert.Throws<ArgumentException>(() => bn2.Forward(new Tensor(new float[] { 1, 2 }, 1, 2, 1, 1)));
        var y = bn2.Forward(new Tensor(new float[] { 1, 3, 5, 9 }, 1, 2, 1, 2));   // one sample, two positions: fine
        Assert.Equal(new[] { -1f, 1f, -1f, 1f }, y.ToArray().Select(v => MathF.Round(v, 3)).ToArray());
    }
}

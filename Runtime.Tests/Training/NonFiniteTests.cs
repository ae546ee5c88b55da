using System;
using System.Linq;
using ModelGen.Runtime.Tests.Compiled;
using Xunit;

namespace ModelGen.Runtime.Tests.Training;

/// <summary>
/// Non-finite values are never silent: <c>Fit</c> stops with a <see cref="NotFiniteNumberException"/> naming the epoch,
/// the step, what was not finite and whether the step was applied (on the CPU it is not); <c>Predict</c> refuses a
/// non-finite input; <see cref="Tensor.ArgMax()"/> refuses NaN.
/// </summary>
public class NonFiniteTests
{
    static Dataset WithNaNFeature(int count, int sample, int feature)
    {
        var data = Synthetic.Blobs(count, 1);
        data.Features[sample * 4 + feature] = float.NaN;
        return data;
    }

    [Fact]
    public void Fit_stops_at_a_NaN_feature_before_the_step_changes_the_parameters()
    {
        var model = new LinearModel(4, 3, seed: 1);
        var before = model.Parameters.Values.ToArray();
        var optimizer = new Sgd(0.1f);
        var ex = Assert.Throws<NotFiniteNumberException>(() =>
            model.Fit(WithNaNFeature(40, 25, 2), epochs: 3, batchSize: 40, optimizer: optimizer, verbose: false));
        Assert.Contains("epoch 1, step 1 of 1", ex.Message);
        Assert.Contains("the training loss is NaN", ex.Message);
        Assert.Contains("This step was not applied", ex.Message);
        Assert.Contains("sample 25 has feature 2 = NaN", ex.Message);
        Assert.True(double.IsNaN(ex.OffendingNumber));
        Assert.Equal(before, model.Parameters.Values.ToArray());
        Assert.Equal(0, optimizer.StepCount);
    }

    [Fact]
    public void Fit_of_a_compiled_model_stops_at_a_NaN_target_and_names_it()
    {
        var model = new BatchNorm2dModel(seed: 4);
        var rng = new Random(3);
        var x = new float[8 * 90].Select(_ => (float)rng.NextDouble()).ToArray();
        var t = new float[8 * 90].Select(_ => (float)rng.NextDouble()).ToArray();
        t[5 * 90 + 7] = float.PositiveInfinity;
        var before = model.Parameters.Values.ToArray();
        var ex = Assert.Throws<NotFiniteNumberException>(() =>
            model.Fit(new Dataset(x, new[] { 3, 5, 6 }, t, new[] { 3, 5, 6 }), epochs: 1, batchSize: 8, optimizer: new AdamW(1e-3f), verbose: false));
        Assert.Contains("epoch 1, step 1 of 1", ex.Message);
        Assert.Contains("sample 5 has target 7 = +infinity", ex.Message);
        Assert.Contains("This step was not applied", ex.Message);
        Assert.Contains("running statistics took this step's batch", ex.Message);
        // The trained parameters are untouched; only the running statistics (state) moved.
        for (int i = 0; i < model.Parameters.Count; i++)
        {
            var p = model.Parameters[i];
            if (!p.Name.Contains("running")) Assert.Equal(before.AsSpan(p.Info.Offset, p.Value.Length).ToArray(), p.Value.ToArray());
        }
    }

    [Fact]
    public void Fit_stops_when_training_diverges_on_finite_data()
    {
        var model = new LinearModel(3, 2, seed: 1, target: TargetKind.Tensor);
        var optimizer = new Sgd(1e6f);
        var ex = Assert.Throws<NotFiniteNumberException>(() =>
            model.Fit(Synthetic.Regression(64, 1), epochs: 50, batchSize: 8, optimizer: optimizer, verbose: false));
        Assert.Contains("The training data is finite", ex.Message);
        Assert.Contains("This step was not applied", ex.Message);
        // "epoch e, step s of 8": every earlier step was applied, the failing one was not.
        var m = System.Text.RegularExpressions.Regex.Match(ex.Message, @"epoch (\d+), step (\d+) of 8");
        Assert.True(m.Success, ex.Message);
        int applied = (int.Parse(m.Groups[1].Value) - 1) * 8 + int.Parse(m.Groups[2].Value) - 1;
        Assert.Equal(applied, optimizer.StepCount);
    }

    /// <summary>One parameter of 4 floats; the training step's loss is 1 and its gradient all ones, except +∞ at step <c>infiniteAt</c>.</summary>
    sealed class InfiniteGradientModel(int infiniteAt) : ModelBase(
        new ModelDescription("InfiniteGradient", new[] { new ParameterInfo("w", new[] { 4 }, 0, Init.Zeros) }, new[] { 2 }, new[] { 2 }, TargetKind.Tensor), 0)
    {
        public override CompiledProgram CreateProgram(int maxBatch) => new Program(Parameters, maxBatch, infiniteAt);

        sealed class Program(ParameterStore p, int maxBatch, int infiniteAt) : CpuProgram(p, maxBatch, 16, 0)
        {
            public override void Infer(ReadOnlySpan<float> input, int batch, Span<float> output) => output.Clear();

            public override float EvaluateStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output)
            {
                output.Clear();
                return 1f;   // the loss the training step reports
            }

            public override float TrainStep(ReadOnlySpan<float> input, ReadOnlySpan<int> labels, ReadOnlySpan<float> targets, int batch, Span<float> output)
            {
                Steps++;
                Parameters.Gradients.Fill(1f);
                if (Steps == infiniteAt) Parameters.Gradients[2] = float.PositiveInfinity;
                output.Clear();
                return 1f;
            }
        }
    }

    [Fact]
    public void Fit_stops_at_a_non_finite_gradient_norm_when_clipping_measures_it()
    {
        var model = new InfiniteGradientModel(infiniteAt: 3);
        var optimizer = new Sgd(0.5f) { ClipGradientNorm = 100f };
        var data = new Dataset(new float[10], new[] { 2 }, new float[10], new[] { 2 });
        var ex = Assert.Throws<NotFiniteNumberException>(() => model.Fit(data, epochs: 1, batchSize: 1, optimizer: optimizer, verbose: false));
        Assert.Contains("epoch 1, step 3 of 5", ex.Message);
        Assert.Contains("the global norm of the gradients (measured for clipping) is +infinity", ex.Message);
        Assert.Contains("This step was not applied", ex.Message);
        Assert.True(double.IsPositiveInfinity(ex.OffendingNumber));
        Assert.Equal(2, optimizer.StepCount);
        Assert.Equal(new[] { -1f, -1f, -1f, -1f }, model.Parameters.Values.Slice(0, 4).ToArray()); // two steps of 0.5·1
    }

    [Fact]
    public void Optimizer_Step_outside_Fit_keeps_PyTorch_clipping_of_a_non_finite_norm()
    {
        var model = new InfiniteGradientModel(infiniteAt: 1);
        var optimizer = new Sgd(0.5f) { ClipGradientNorm = 100f };
        model.Parameters.Gradients.Fill(1f);
        model.Parameters.Gradients[2] = float.PositiveInfinity;
        optimizer.Step(model.Parameters);   // clip_grad_norm_(error_if_nonfinite=False): the factor is 0, the step is taken
        Assert.Equal(1, optimizer.StepCount);
        Assert.True(double.IsPositiveInfinity(optimizer.LastGradientNorm!.Value));
    }

    [Fact]
    public void Predict_refuses_a_non_finite_input_naming_the_sample_and_element()
    {
        var model = new LinearModel(4, 3, seed: 1);
        var batch = new Tensor(new float[12], 3, 4);
        batch[2, 1] = float.NaN;
        var ex = Assert.Throws<ArgumentException>(() => model.Predict(batch));
        Assert.Contains("input sample 2 has the non-finite value NaN at element 1", ex.Message);
        var one = new Tensor(new float[] { 0, 0, float.NegativeInfinity, 0 }, 4);
        ex = Assert.Throws<ArgumentException>(() => model.Predict(one));
        Assert.Contains("the input has the non-finite value -infinity at element 2", ex.Message);
        Assert.Equal(3, model.Predict(new Tensor(new float[4], 4)).Length);
    }

    [Fact]
    public void ArgMax_refuses_NaN_instead_of_answering_a_class()
    {
        var t = new Tensor(new float[] { 0.1f, float.NaN, 0.3f }, 3);
        var ex = Assert.Throws<InvalidOperationException>(() => t.ArgMax());
        Assert.Contains("NaN (at flat index 1)", ex.Message);
        var rows = new Tensor(new float[] { 1, 2, 3, float.NaN, 5, 6 }, 2, 3);
        ex = Assert.Throws<InvalidOperationException>(() => rows.ArgMax(-1));
        Assert.Contains("flat index 3", ex.Message);
        Assert.Equal(new[] { 2, 2 }, new Tensor(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3).ArgMax(-1));
        Assert.Equal(2, new Tensor(new float[] { 1, float.NegativeInfinity, float.PositiveInfinity }, 3).ArgMax());
    }
}

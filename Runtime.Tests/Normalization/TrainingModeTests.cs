using System;
using System.Linq;
using ModelGen.Runtime.Tests.Compiled;
using ModelGen.Runtime.Tests.Cpu;
using ModelGen.Runtime.Tests.Data;
using Xunit;

namespace ModelGen.Runtime.Tests.Normalization;

/// <summary>
/// Training and inference modes: Fit trains with batch statistics and dropout and moves the running statistics;
/// Evaluate and Predict use the running statistics without dropout (equal to the eager model in Eval mode); a
/// checkpoint keeps the running statistics; the eager Train/Eval switch behaves as PyTorch's.
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public class TrainingModeTests
{
    /// <summary>Three separable classes of 8 features.</summary>
    static Dataset MakeData(int count, int seed)
    {
        var rng = new Random(seed);
        var features = new float[count * 8];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int label = rng.Next(3);
            labels[i] = label;
            for (int j = 0; j < 8; j++) features[i * 8 + j] = (float)(rng.NextDouble() * 2 - 1) + (j % 3 == label ? 2f : 0f) + 3f;
        }
        return new Dataset(features, new[] { 8 }, labels, 3);
    }

    static float[] State(ModelBase m, string name) => m.Parameters[name].Value.ToArray();

    [Fact]
    public void FitUpdatesRunningStatisticsAndInferenceUsesThem()
    {
        var model = new NormClassifierModel(seed: 1);
        var data = MakeData(300, 2);
        Assert.All(State(model, "norm.running_mean"), v => Assert.Equal(0f, v));
        Assert.All(State(model, "norm.running_var"), v => Assert.Equal(1f, v));
        var history = model.Fit(data, epochs: 3, batchSize: 32, optimizer: new AdamW(1e-2f), verbose: false);
        Assert.True(history[2].TrainLoss < history[0].TrainLoss);
        var mean = State(model, "norm.running_mean");
        var variance = State(model, "norm.running_var");
        Assert.Contains(mean, v => Math.Abs(v) > 0.05f); // inputs are shifted by +3: the features' means are far from 0
        Assert.Contains(variance, v => Math.Abs(v - 1f) > 0.05f);

        // Predict and Evaluate run the inference graph: running statistics, no dropout, the same as the eager model in Eval mode.
        var x = new Tensor(data.Features.AsSpan(0, 20 * 8), 20, 8);
        var predicted = model.Predict(x).ToArray();
        model.Eval();
        float[] eager;
        using (Tensor.NoGrad()) eager = model.Forward(x).ToArray();
        for (int i = 0; i < eager.Length; i++) Assert.Equal(eager[i], predicted[i], 1e-4f * (1 + Math.Abs(eager[i])));
        Assert.Equal(predicted, model.Predict(x).ToArray()); // inference is deterministic (no dropout) and leaves the state alone
        Assert.Equal(mean, State(model, "norm.running_mean"));
        var evaluation = model.Evaluate(data);
        Assert.Equal(mean, State(model, "norm.running_mean"));
        Assert.True(evaluation.Accuracy > 0.8, $"accuracy {evaluation.Accuracy}");

        // Eager train mode uses the batch's statistics instead: a different output, and it moves the running mean.
        model.Train();
        var trained = model.Forward(x).ToArray();
        Assert.NotEqual(eager, trained);
        Assert.NotEqual(mean, State(model, "norm.running_mean"));
    }

    [Fact]
    public void CheckpointRoundTripKeepsRunningStatistics()
    {
        var model = new NormClassifierModel(seed: 3);
        model.Fit(MakeData(96, 4), epochs: 1, batchSize: 16, verbose: false);
        using var dir = new TempDirectory();
        string path = dir.File("norm.safetensors");
        model.Save(path);
        var restored = new NormClassifierModel(seed: 99);
        Assert.NotEqual(State(model, "norm.running_mean"), State(restored, "norm.running_mean"));
        restored.Load(path);
        foreach (var name in new[] { "norm.running_mean", "norm.running_var", "norm.weight", "hidden.weight" })
            Assert.Equal(State(model, name), State(restored, name));
        var x = new Tensor(MakeData(5, 5).Features, 5, 8);
        Assert.Equal(model.Predict(x).ToArray(), restored.Predict(x).ToArray());
        Assert.False(restored.Parameters["norm.running_mean"].Info.Trainable);
        Assert.True(restored.Parameters["norm.weight"].Info.Trainable);
    }

    [Fact]
    public void EagerModeSwitchesDropoutAndIsSharedByTheModelsLayers()
    {
        var model = new DropoutModel(seed: 1);
        var x = new Tensor(CpuTestSupport.Random(new Random(1), 4 * 11), 4, 11);
        Assert.True(model.Mode.Training); // PyTorch's default
        var a = model.Forward(x).ToArray();
        Assert.Equal(a, model.Forward(x).ToArray()); // same (seed, step): same mask
        model.Mode.Step++;
        Assert.NotEqual(a, model.Forward(x).ToArray()); // another step: another mask
        model.Eval();
        Assert.False(model.Mode.Training);
        var e = model.Forward(x).ToArray();
        Assert.Equal(e, model.Predict(x).ToArray(), new ToleranceComparer(1e-5f)); // Eval is Infer: no dropout

        // A stand-alone layer has its own mode; identity in eval, inverted scaling in train.
        var drop = new Dropout(0.5);
        var ones = new Tensor(Enumerable.Repeat(1f, 1000).ToArray(), 1000);
        Assert.All(drop.Forward(ones).ToArray(), v => Assert.True(v == 0f || v == 2f));
        drop.Mode.Training = false;
        Assert.Same(ones, drop.Forward(ones));
    }

    sealed class ToleranceComparer : System.Collections.Generic.IEqualityComparer<float>
    {
        readonly float _tolerance;
        public ToleranceComparer(float tolerance) => _tolerance = tolerance;
        public bool Equals(float a, float b) => Math.Abs(a - b) <= _tolerance * (1 + Math.Abs(a));
        public int GetHashCode(float v) => 0;
    }
}

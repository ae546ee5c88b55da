using System;
using System.IO;
using System.Linq;
using ModelGen;
using Xunit;
using ModelGen.Runtime.Tests.Training;
using static ModelGen.Ops;

namespace ModelGen.Runtime.Tests.Optimizers;

/// <summary>Every rate, epsilon and momentum, and the scalars of tensor arithmetic, written as double literals, as a PyTorch user types them.</summary>
[Model]
public partial class DoubleLiteralModel
{
    readonly Linear hidden = new(7, 12, bias: false);
    readonly BatchNorm1d norm = new(12, 1e-5, 0.1);
    readonly Dropout drop = new(0.1);
    readonly Linear output = new(12, 3);

    [Forward] public Tensor Forward([Shape(7)] Tensor x) => output.Forward(drop.Forward(LeakyRelu(norm.Forward(hidden.Forward(0.5 * x - 0.25)), 0.01) / 1.5 + 0.125));

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => CrossEntropy(logits, labels, 0.1);
}

/// <summary><see cref="DoubleLiteralModel"/> with float literals (<c>0.1f</c>): the generator folds both to the same floats.</summary>
[Model]
public partial class FloatLiteralModel
{
    readonly Linear hidden = new(7, 12, bias: false);
    readonly BatchNorm1d norm = new(12, 1e-5f, 0.1f);
    readonly Dropout drop = new(0.1f);
    readonly Linear output = new(12, 3);

    [Forward] public Tensor Forward([Shape(7)] Tensor x) => output.Forward(drop.Forward(LeakyRelu(norm.Forward(hidden.Forward(0.5f * x - 0.25f)), 0.01f) / 1.5f + 0.125f));

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => CrossEntropy(logits, labels, 0.1f);
}

/// <summary>
/// Hyperparameters are typed <c>double</c> at the API (<c>new AdamW(1e-3)</c> compiles) and rounded to float once:
/// a double literal and the same literal with <c>f</c> train bit for bit alike, and write the same checkpoint metadata.
/// </summary>
public class DoubleLiteralTests
{
    const int Steps = 4 * 10;   // 4 epochs of 10 batches

    static Optimizer Make(string kind, bool asDouble) => (kind, asDouble) switch
    {
        ("sgd", true) => new Sgd(0.1, momentum: 0.9, weightDecay: 1e-4) { Schedule = new StepDecay(7, 0.5) },
        ("sgd", false) => new Sgd(0.1f, momentum: 0.9f, weightDecay: 1e-4f) { Schedule = new StepDecay(7, 0.5f) },
        ("nesterov", true) => new Sgd(0.05, momentum: 0.8, nesterov: true) { Schedule = new MultiStepDecay(new[] { 5, 20 }, 0.3) },
        ("nesterov", false) => new Sgd(0.05f, momentum: 0.8f, nesterov: true) { Schedule = new MultiStepDecay(new[] { 5, 20 }, 0.3f) },
        ("adam", true) => new Adam(3e-3, 0.85, 0.995, 1e-7, 1e-3) { Schedule = new ExponentialDecay(0.97) },
        ("adam", false) => new Adam(3e-3f, 0.85f, 0.995f, 1e-7f, 1e-3f) { Schedule = new ExponentialDecay(0.97f) },
        ("adamw", true) => new AdamW(1e-3, weightDecay: 0.05) { ClipGradientNorm = 0.3, Schedule = new CosineDecay(Steps, 0.1, warmupSteps: 3) },
        ("adamw", false) => new AdamW(1e-3f, weightDecay: 0.05f) { ClipGradientNorm = 0.3f, Schedule = new CosineDecay(Steps, 0.1f, warmupSteps: 3) },
        ("rmsprop", true) => new RMSprop(1e-3, alpha: 0.9, epsilon: 1e-6, weightDecay: 1e-4, momentum: 0.5, centered: true)
            { LearningRate = 2e-3, Schedule = new LinearWarmup(4, new CosineDecay(Steps - 4, 0.01)) },
        ("rmsprop", false) => new RMSprop(1e-3f, alpha: 0.9f, epsilon: 1e-6f, weightDecay: 1e-4f, momentum: 0.5f, centered: true)
            { LearningRate = 2e-3f, Schedule = new LinearWarmup(4, new CosineDecay(Steps - 4, 0.01f)) },
        _ => throw new ArgumentException(kind),
    };

    public static TheoryData<string> Kinds => new() { "sgd", "nesterov", "adam", "adamw", "rmsprop" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Double_and_float_literals_train_bit_for_bit_alike(string kind)
    {
        var rng = new Random(4);
        var x = new float[150 * 7];
        var y = new int[150];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 4 - 1);
        for (int i = 0; i < y.Length; i++) y[i] = rng.Next(3);
        var train = new Dataset(x, new[] { 7 }, y, 3);

        var withDoubles = new DoubleLiteralModel(seed: 5);
        var withFloats = new FloatLiteralModel(seed: 5);
        Optimizer d = Make(kind, asDouble: true), f = Make(kind, asDouble: false);
        var hd = withDoubles.Fit(train, epochs: 4, batchSize: 15, optimizer: d, seed: 9, verbose: false);
        var hf = withFloats.Fit(train, epochs: 4, batchSize: 15, optimizer: f, seed: 9, verbose: false);

        Assert.Equal(Steps, d.StepCount);
        Assert.Equal(hf.Select(e => e.TrainLoss), hd.Select(e => e.TrainLoss));
        Assert.Equal(withFloats.Parameters.Values.ToArray(), withDoubles.Parameters.Values.ToArray());
        Assert.Equal(f.ExportMetadata(), d.ExportMetadata());
        Assert.NotEqual(withDoubles.Parameters.Values.ToArray(), new DoubleLiteralModel(seed: 5).Parameters.Values.ToArray());
    }

    [Fact]
    public void Getters_give_the_float_the_update_uses_as_a_double()
    {
        var adamw = new AdamW(1e-3) { ClipGradientNorm = 0.1 };
        Assert.Equal((double)1e-3f, adamw.LearningRate);
        Assert.Equal((double)0.999f, adamw.Beta2);
        Assert.Equal((double)0.01f, adamw.WeightDecay);
        Assert.Equal((double)0.1f, adamw.ClipGradientNorm);
        Assert.Equal((double)1e-3f, adamw.CurrentLearningRate);
        Assert.Equal((double)0.9f, new Sgd(0.1, momentum: 0.9).Momentum);
        Assert.Equal((double)0.3f, new StepDecay(2, 0.3).Gamma);
        Assert.Equal((double)0.05f, new CosineDecay(10, 0.05).MinFactor);
        // A value that is in range as a double but not as the float that is kept is refused, naming the parameter.
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(beta2: 0.99999999));
        Assert.Equal("beta2", ex.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(1e300));
    }

    [Fact]
    public void A_checkpoint_written_with_float_arguments_loads_with_double_ones()
    {
        var train = Synthetic.Blobs(60, 3);
        string path = Path.Combine(Path.GetTempPath(), $"modelgen-double-{Guid.NewGuid():N}.safetensors");
        try
        {
            var first = new LinearModel(4, 3, seed: 1);
            var floats = new AdamW(3e-3f, beta1: 0.8f, weightDecay: 1e-4f) { ClipGradientNorm = 0.5f, Schedule = new CosineDecay(30, 0.1f) };
            first.Fit(train, epochs: 2, batchSize: 20, optimizer: floats, verbose: false);
            first.Save(path, floats);

            var second = new LinearModel(4, 3, seed: 2);
            var doubles = new AdamW(3e-3, beta1: 0.8, weightDecay: 1e-4) { ClipGradientNorm = 0.5, Schedule = new CosineDecay(30, 0.1) };
            second.Load(path, doubles);
            Assert.Equal(floats.StepCount, doubles.StepCount);
            Assert.Equal(first.Parameters.Values.ToArray(), second.Parameters.Values.ToArray());

            // Both continue alike, bit for bit.
            first.Fit(train, epochs: 1, batchSize: 20, optimizer: floats, verbose: false);
            second.Fit(train, epochs: 1, batchSize: 20, optimizer: doubles, verbose: false);
            Assert.Equal(first.Parameters.Values.ToArray(), second.Parameters.Values.ToArray());

            // A hyperparameter that differs at float precision is still reported.
            var other = new AdamW(3e-3, beta1: 0.81, weightDecay: 1e-4) { ClipGradientNorm = 0.5, Schedule = new CosineDecay(30, 0.1) };
            var error = Assert.ThrowsAny<Exception>(() => new LinearModel(4, 3, seed: 2).Load(path, other));
            Assert.Contains("beta1", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

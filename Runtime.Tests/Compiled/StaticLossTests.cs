using System;
using System.Linq;
using Xunit;
using static ModelGen.Ops;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary><see cref="MlpModel"/> with its loss static, as CA1822 (AnalysisLevel latest-all) asks of a loss.</summary>
[Model]
public partial class StaticLossMlpModel
{
    readonly Linear hidden = new(37, 19);
    readonly Linear output = new(19, 5);

    [Forward] public Tensor Forward([Shape(37)] Tensor x) => output.Forward(Relu(hidden.Forward(x)));

    [Loss] public static Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

/// <summary>
/// A static [Loss] compiles to the program of the instance one: the same seed and data give the same training losses,
/// validation losses and parameters, bit for bit (the generated code is identical; Generator.Tests checks that too).
/// </summary>
public class StaticLossTests
{
    [Fact]
    public void StaticLossTrainsLikeTheInstanceLoss()
    {
        var rng = new Random(5);
        var x = Enumerable.Range(0, 80 * 37).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var labels = Enumerable.Range(0, 80).Select(_ => rng.Next(5)).ToArray();
        var train = new Dataset(x, new[] { 37 }, labels, 5);

        var instance = new MlpModel(seed: 3);
        var @static = new StaticLossMlpModel(seed: 3);
        var a = instance.Fit(train, epochs: 3, batchSize: 16, seed: 7, validation: train, verbose: false);
        var b = @static.Fit(train, epochs: 3, batchSize: 16, seed: 7, validation: train, verbose: false);

        Assert.Equal(a.Select(e => e.TrainLoss), b.Select(e => e.TrainLoss));
        Assert.Equal(a.Select(e => e.ValidationLoss), b.Select(e => e.ValidationLoss));
        Assert.True(a[^1].TrainLoss < a[0].TrainLoss, $"the loss did not fall: {a[0].TrainLoss} → {a[^1].TrainLoss}");
        Assert.Equal(instance.Parameters.Select(p => p.Name), @static.Parameters.Select(p => p.Name));
        foreach (var (p, q) in instance.Parameters.Zip(@static.Parameters))
            Assert.Equal(p.Value.ToArray(), q.Value.ToArray());

        // The user calls the static loss eagerly as any static method.
        var logits = new Tensor(new float[] { 2, 0, 0, 0, 0 }, new[] { 1, 5 });
        Assert.Equal(instance.Loss(logits, new Labels(new[] { 0 })).Item(), StaticLossMlpModel.Loss(logits, new Labels(new[] { 0 })).Item());
    }
}

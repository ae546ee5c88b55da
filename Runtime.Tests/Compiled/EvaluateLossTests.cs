using System;
using System.Linq;
using Xunit;

namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>
/// Evaluate's loss is the model's own [Loss] on its inference outputs: the user's Forward and Loss run eagerly in
/// evaluation mode over the whole set give the same number (and so does Fit's validation loss, which EarlyStopping and
/// ModelCheckpoint watch). The sets are 45 samples evaluated in batches of 16 (a partial last batch): the loss of a
/// set is the sample-weighted mean of its batches' losses. Tolerance (float32 against float32, different summation
/// orders): 2e-4 relative to max(|eager loss|, 1).
/// </summary>
public class EvaluateLossTests
{
    const double Tolerance = 2e-4;

    [Theory]
    [InlineData("TinyTransformer")]   // SequenceCrossEntropy, one-hot targets per position
    [InlineData("Dropout")]           // HuberLoss(delta 0.5), two Dropout layers (the identity when evaluating)
    [InlineData("BatchNorm2d")]       // L1Loss, BatchNorm2d with running statistics
    [InlineData("Bce")]               // BinaryCrossEntropyWithLogits, targets in [0, 1]
    [InlineData("BatchNormMlp")]      // CrossEntropy with label smoothing 0.1, BatchNorm1d
    [InlineData("Mlp")]               // SoftmaxCrossEntropy, which the old fixed computation also gave
    [InlineData("Elementwise")]       // a loss written out of ops: Mean(Square(y - target))
    public void Evaluate_loss_is_the_models_own_loss(string name)
    {
        var c = OracleCases.All.Single(o => o.Name == name);
        var model = c.Create();
        var train = MakeSet(model.Description, 32, seed: 1, c.Ids);
        var test = MakeSet(model.Description, 45, seed: 2, c.Ids);
        var history = model.Fit(train, epochs: 1, batchSize: 8, optimizer: new AdamW(1e-2f), validation: test, verbose: false);

        double expected = EagerLoss(c, model, test);
        var evaluation = model.Evaluate(test, batchSize: 16);
        double tolerance = Tolerance * Math.Max(Math.Abs(expected), 1);
        Assert.True(Math.Abs(evaluation.Loss - expected) <= tolerance,
            $"{name}: Evaluate's loss {evaluation.Loss} differs from the model's own loss {expected} (eager, evaluation mode) by more than {tolerance}");
        double validation = history[0].ValidationLoss!.Value;
        Assert.True(Math.Abs(validation - expected) <= tolerance,
            $"{name}: Fit's validation loss {validation} differs from the model's own loss {expected} by more than {tolerance}");
    }

    /// <summary>The user's Forward and Loss, op by op, in evaluation mode over the whole set.</summary>
    static double EagerLoss(OracleCase c, ModelBase model, Dataset data)
    {
        var x = new Tensor(data.Features, new[] { data.Count }.Concat(model.Description.InputShape).ToArray());
        model.Eval();
        try
        {
            using (Tensor.NoGrad())
            {
                var y = c.Forward(model, x);
                var target = new Tensor(data.Targets ?? new float[y.Length], y.GetShape());
                return c.Loss(model, y, target, new Labels(data.Labels ?? Array.Empty<int>())).Item();
            }
        }
        finally
        {
            model.Train();
        }
    }

    /// <summary>
    /// Inputs uniform in [-1, 1] (token ids in [0, ids) for an embedding); labels for a classifier; targets one-hot per
    /// position for SequenceCrossEntropy, in [0, 1] for the others (valid for BCE, and fine for Huber, L1 and MSE).
    /// </summary>
    static Dataset MakeSet(ModelDescription d, int count, int seed, int ids)
    {
        var rng = new Random(seed);
        int inLength = d.InputShape.Aggregate(1, (a, b) => a * b), outLength = d.OutputShape.Aggregate(1, (a, b) => a * b);
        var x = new float[count * inLength];
        for (int i = 0; i < x.Length; i++) x[i] = ids > 0 ? rng.Next(ids) : (float)(rng.NextDouble() * 2 - 1);
        if (d.Target == TargetKind.Labels)
            return new Dataset(x, d.InputShape, Enumerable.Range(0, count).Select(_ => rng.Next(outLength)).ToArray(), outLength);
        var t = new float[count * outLength];
        if (ids > 0)
        {
            int classes = d.OutputShape[^1];
            for (int row = 0; row < t.Length / classes; row++) t[row * classes + rng.Next(classes)] = 1f;
        }
        else
        {
            for (int i = 0; i < t.Length; i++) t[i] = (float)rng.NextDouble();
        }
        return new Dataset(x, d.InputShape, t, d.OutputShape);
    }
}

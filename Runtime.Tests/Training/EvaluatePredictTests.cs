using System;
using ModelGen;
using Xunit;

namespace ModelGen.Runtime.Tests.Training;

public class EvaluatePredictTests
{
    static LinearModel Trained()
    {
        var model = new LinearModel(4, 3, seed: 3);
        model.Fit(Synthetic.Blobs(200, 1), epochs: 2, batchSize: 16, optimizer: new AdamW(0.05f), verbose: false);
        return model;
    }

    [Fact]
    public void Evaluate_computes_cross_entropy_accuracy_and_confusion_from_the_outputs()
    {
        var model = Trained();
        var data = Synthetic.Blobs(300, 9);
        var e = model.Evaluate(data, batchSize: 64);   // 300 = 4 x 64 + 44: a partial last batch
        var logits = model.Predict(new Tensor(data.Features, 300, 4)).Data;
        double loss = 0;
        int correct = 0;
        var confusion = new int[3, 3];
        for (int r = 0; r < 300; r++)
        {
            double sum = 0;
            for (int c = 0; c < 3; c++) sum += Math.Exp(logits[r * 3 + c]);
            loss += Math.Log(sum) - logits[r * 3 + data.Labels![r]];
            int best = 0;
            for (int c = 1; c < 3; c++) if (logits[r * 3 + c] > logits[r * 3 + best]) best = c;
            confusion[data.Labels[r], best]++;
            if (best == data.Labels[r]) correct++;
        }
        Assert.Equal(300, e.Count);
        Assert.Equal(loss / 300, e.Loss, 1e-6);
        Assert.Equal(correct / 300.0, e.Accuracy!.Value, 12);
        Assert.Equal(confusion, e.ConfusionMatrix);
    }

    [Fact]
    public void Predict_single_and_batched_agree()
    {
        var model = Trained();
        var data = Synthetic.Blobs(300, 4);
        var batch = model.Predict(new Tensor(data.Features, 300, 4));   // over 256: runs in chunks
        Assert.Equal(new[] { 300, 3 }, batch.GetShape());
        for (int i = 0; i < 300; i += 37)
        {
            var one = model.Predict(new Tensor(data.Sample(i), 4));
            Assert.Equal(new[] { 3 }, one.GetShape());
            Assert.Equal(batch.Data.Slice(i * 3, 3).ToArray(), one.Data.ToArray());
        }
        var none = model.Predict(new Tensor(0, 4));
        Assert.Equal(new[] { 0, 3 }, none.GetShape());
    }

    [Fact]
    public void Predict_with_a_wrong_shape_names_both_shapes()
    {
        var model = new LinearModel(4, 3);
        var ex = Assert.Throws<ArgumentException>(() => model.Predict(new Tensor(5, 3)));
        Assert.Contains("(4)", ex.Message);
        Assert.Contains("(B, 4)", ex.Message);
        Assert.Contains("(5, 3)", ex.Message);
    }

    [Fact]
    public void Evaluate_and_predict_share_one_cached_program()
    {
        var model = new LinearModel(4, 3);
        var data = Synthetic.Blobs(50, 1);
        model.Evaluate(data);
        model.Evaluate(data);
        model.Predict(new Tensor(data.Sample(0), 4));
        Assert.Equal(1, model.ProgramsCreated);
    }
}

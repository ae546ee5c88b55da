using System;
using System.Linq;
using ModelGen;
using Xunit;

namespace ModelGen.Runtime.Tests.Training;

/// <summary>ClassificationMetrics on small cases worked out by hand, and Evaluate's metrics against a brute-force oracle.</summary>
public class MetricsTests
{
    // labels      0 0 0 1 1 1 2 2
    // predictions 0 0 1 1 1 0 0 1     (class 2 is never predicted)
    // confusion [true, predicted]:  t0: 2 1 0   t1: 1 2 0   t2: 1 1 0
    // predicted counts 4 4 0, support 3 3 2, accuracy 4/8.
    // precision 2/4, 2/4, 0/0 -> 0;  recall 2/3, 2/3, 0/2;  F1 = 2tp/(2tp+fp+fn): 4/7, 4/7, 0/2 -> 0.
    static readonly int[] Labels = { 0, 0, 0, 1, 1, 1, 2, 2 };
    static readonly int[] Predictions = { 0, 0, 1, 1, 1, 0, 0, 1 };

    [Fact]
    public void Three_classes_with_one_never_predicted()
    {
        var m = ClassificationMetrics.FromPredictions(Labels, Predictions, 3);
        Assert.Equal(new int[,] { { 2, 1, 0 }, { 1, 2, 0 }, { 1, 1, 0 } }, m.ConfusionMatrix);
        Assert.Equal(3, m.Classes);
        Assert.Equal(8, m.Count);
        Assert.Equal(0.5, m.Accuracy, 12);
        Assert.Equal(new long[] { 3, 3, 2 }, m.Support);
        Assert.Equal(new long[] { 4, 4, 0 }, m.PredictedCount);
        Assert.Equal(new[] { 0.5, 0.5, 0.0 }, m.Precision);
        Assert.Equal(new[] { 2 / 3.0, 2 / 3.0, 0.0 }, m.Recall);
        Assert.Equal(new[] { 4 / 7.0, 4 / 7.0, 0.0 }, m.F1);
        Assert.Equal(1 / 3.0, m.MacroPrecision, 12);
        Assert.Equal(4 / 9.0, m.MacroRecall, 12);
        Assert.Equal(8 / 21.0, m.MacroF1, 12);
        Assert.Equal(0.5, m.TopKAccuracy(1), 12);
        Assert.Equal(1.0, m.TopKAccuracy(3), 12);                                  // k >= classes
        Assert.Throws<ArgumentOutOfRangeException>(() => m.TopKAccuracy(2));       // predictions carry no ranking
    }

    [Fact]
    public void A_class_absent_from_labels_and_predictions_is_left_out_of_the_macro_average()
    {
        // The same samples over 4 classes: class 3 never occurs, so its P/R/F1 are 0 and the macro averages are unchanged.
        var m = ClassificationMetrics.FromPredictions(Labels, Predictions, 4);
        Assert.Equal(0.0, m.Precision[3]);
        Assert.Equal(0.0, m.Recall[3]);
        Assert.Equal(0.0, m.F1[3]);
        Assert.Equal(8 / 21.0, m.MacroF1, 12);
        Assert.Equal(1 / 3.0, m.MacroPrecision, 12);
    }

    [Fact]
    public void A_class_predicted_but_never_a_label_has_recall_0_and_counts_in_the_macro_average()
    {
        // labels 0 0 1, predictions 0 2 1: class 2 has tp 0, fp 1, fn 0 -> P 0, R 0/0 -> 0, F1 0/1 = 0.
        // class 0: P 1/1, R 1/2, F1 2/3; class 1: P 1, R 1, F1 1. Macro F1 over all three = (2/3 + 1 + 0) / 3 = 5/9.
        var m = ClassificationMetrics.FromPredictions(new[] { 0, 0, 1 }, new[] { 0, 2, 1 }, 3);
        Assert.Equal(new[] { 1.0, 1.0, 0.0 }, m.Precision);
        Assert.Equal(new[] { 0.5, 1.0, 0.0 }, m.Recall);
        Assert.Equal(5 / 9.0, m.MacroF1, 12);
    }

    [Fact]
    public void Top_k_from_logits_breaks_ties_to_the_lower_index()
    {
        float[] logits =
        {
            0.1f, 0.5f, 0.2f, 0.9f,   // label 1: only 0.9 above -> rank 1 (top-2)
            1f, 1f, 0f, 0f,           // label 1: ties class 0, which wins (arg-max is 0) -> rank 1 (top-2)
            0.3f, 0.2f, 0.1f, 0f,     // label 3: last -> rank 3 (top-4)
            0f, 0f, 5f, 1f,           // label 2: predicted -> rank 0
        };
        int[] labels = { 1, 1, 3, 2 };
        var m = ClassificationMetrics.FromLogits(logits, labels, 4);
        Assert.Equal(4, m.MaxTopK);
        Assert.Equal(0.25, m.TopKAccuracy(1), 12);
        Assert.Equal(0.75, m.TopKAccuracy(2), 12);
        Assert.Equal(0.75, m.TopKAccuracy(3), 12);
        Assert.Equal(1.0, m.TopKAccuracy(4), 12);
        Assert.Equal(1.0, m.TopKAccuracy(5), 12);
        Assert.Equal(1, m.ConfusionMatrix[1, 3]);
        Assert.Equal(1, m.ConfusionMatrix[1, 0]);
        Assert.Equal(1, m.ConfusionMatrix[3, 0]);
        Assert.Equal(1, m.ConfusionMatrix[2, 2]);

        var two = ClassificationMetrics.FromLogits(logits, labels, 4, maxTopK: 2);
        Assert.Equal(0.75, two.TopKAccuracy(2), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => two.TopKAccuracy(3));
        Assert.Equal(1.0, two.TopKAccuracy(4), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => two.TopKAccuracy(0));
    }

    [Fact]
    public void From_a_confusion_matrix_it_copies_and_validates()
    {
        var c = new int[,] { { 2, 1, 0 }, { 1, 2, 0 }, { 1, 1, 0 } };
        var m = new ClassificationMetrics(c);
        c[0, 0] = 100;
        Assert.Equal(0.5, m.Accuracy, 12);
        Assert.Equal(8 / 21.0, m.MacroF1, 12);
        Assert.Throws<ArgumentException>(() => new ClassificationMetrics(new int[2, 3]));
        Assert.Throws<ArgumentException>(() => new ClassificationMetrics(new int[,] { { -1 } }));
    }

    [Fact]
    public void Empty_metrics_are_nan_accuracy_and_zero_averages()
    {
        var m = ClassificationMetrics.FromPredictions(ReadOnlySpan<int>.Empty, ReadOnlySpan<int>.Empty, 3);
        Assert.True(double.IsNaN(m.Accuracy));
        Assert.True(double.IsNaN(m.TopKAccuracy(2)));
        Assert.Equal(0.0, m.MacroF1);
    }

    [Fact]
    public void Bad_inputs_are_rejected_with_the_index()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ClassificationMetrics.FromPredictions(new[] { 0, 3 }, new[] { 0, 0 }, 3));
        Assert.Contains("Entry 1", ex.Message);
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.FromPredictions(new[] { 0 }, new[] { 0, 0 }, 3));
        Assert.Throws<ArgumentException>(() => ClassificationMetrics.FromLogits(new float[5], new[] { 0, 1 }, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClassificationMetrics.FromLogits(new float[3], new[] { 0 }, 3, maxTopK: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ClassificationMetrics.FromPredictions(new[] { 0 }, new[] { 0 }, 0));
    }

    [Fact]
    public void Evaluate_reports_top_k_and_per_class_metrics_that_match_the_outputs()
    {
        var model = new LinearModel(4, 3, seed: 3);
        model.Fit(Synthetic.Blobs(200, 1), epochs: 1, batchSize: 16, optimizer: new Sgd(0.01f), verbose: false);
        var data = Synthetic.Blobs(300, 9);
        var e = model.Evaluate(data, batchSize: 64);
        var logits = model.Predict(new Tensor(data.Features, 300, 4)).Data.ToArray();
        var expected = ClassificationMetrics.FromLogits(logits, data.Labels, 3);
        Assert.NotNull(e.Metrics);
        Assert.Equal(expected.ConfusionMatrix, e.ConfusionMatrix);
        Assert.Equal(e.Accuracy!.Value, e.TopKAccuracy(1), 15);
        Assert.Equal(1.0, e.TopKAccuracy(3), 15);
        Assert.Equal(expected.Precision, e.Precision!);
        Assert.Equal(expected.Recall, e.Recall!);
        Assert.Equal(expected.F1, e.F1!);
        Assert.Equal(expected.MacroF1, e.MacroF1!.Value, 15);

        // Top-2 by brute force: the label is within the two largest (ties to the lower index).
        int hits = 0;
        for (int r = 0; r < 300; r++)
        {
            var order = Enumerable.Range(0, 3).OrderByDescending(c => logits[r * 3 + c]).ThenBy(c => c).ToArray();
            if (order[0] == data.Labels![r] || order[1] == data.Labels[r]) hits++;
        }
        Assert.Equal(hits / 300.0, e.TopKAccuracy(2), 12);
        Assert.True(e.TopKAccuracy(2) >= e.TopKAccuracy(1));
    }

    [Fact]
    public void Evaluate_of_an_empty_set_gives_empty_classification_metrics()
    {
        var e = new LinearModel(4, 3).Evaluate(new Dataset(Array.Empty<float>(), new[] { 4 }, Array.Empty<int>(), 3));
        Assert.Equal(0, e.Count);
        Assert.True(double.IsNaN(e.Accuracy!.Value));
        Assert.True(double.IsNaN(e.TopKAccuracy(2)));
        Assert.Equal(new int[3, 3], e.ConfusionMatrix);
        Assert.Equal(0.0, e.MacroF1);
    }

    [Fact]
    public void Evaluate_of_a_regression_model_has_no_classification_metrics()
    {
        var model = new LinearModel(3, 2, seed: 1, target: TargetKind.Tensor);
        var e = model.Evaluate(Synthetic.Regression(20, 1));
        Assert.Null(e.Metrics);
        Assert.Null(e.MacroF1);
        Assert.Null(e.F1);
        Assert.Throws<InvalidOperationException>(() => e.TopKAccuracy(1));
    }
}

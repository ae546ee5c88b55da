using System;
using System.Collections.Generic;

namespace ModelGen;

/// <summary>
/// Classification metrics from a confusion matrix (and, when built from logits, top-k hit counts): accuracy, top-k
/// accuracy, per-class precision, recall and F1, and their macro averages. Usable on its own
/// (<see cref="FromPredictions"/>, <see cref="FromLogits"/>) and computed by <c>Evaluate</c>.
/// </summary>
/// <remarks>
/// <para>Conventions follow scikit-learn with <c>zero_division=0</c>: a class never predicted has precision 0 (0/0 is
/// defined as 0), a class with no samples has recall 0, and F1 = 2·tp / (2·tp + fp + fn) is 0 when that is 0/0.</para>
/// <para>The macro averages (<see cref="MacroPrecision"/>, <see cref="MacroRecall"/>, <see cref="MacroF1"/>) are
/// unweighted means over the classes that occur among the labels or the predictions (scikit-learn's default label
/// set), so a class absent from both does not drag the average down; they are 0 when no class occurs.</para>
/// <para>Top-k: a sample counts as a top-k hit when its label is the predicted class (the first largest logit, the
/// arg-max used for <see cref="Accuracy"/>) or fewer than k classes rank above it, ranking by logit with ties broken by
/// the lower class index. So <c>TopKAccuracy(1) == Accuracy</c> and the accuracy never falls as k grows.</para>
/// </remarks>
public sealed class ClassificationMetrics
{
    /// <summary>The largest k <c>Evaluate</c> records top-k accuracy for.</summary>
    public const int DefaultMaxTopK = 5;

    readonly int[,] _confusion;
    readonly long[]? _topKHits;     // [k - 1]: samples whose label is within the top k
    readonly double[] _precision, _recall, _f1;
    readonly long[] _support, _predicted;

    /// <summary>Metrics from a confusion matrix indexed [true label, predicted class] (copied); no top-k beyond k = 1.</summary>
    public ClassificationMetrics(int[,] confusionMatrix) : this(Copy(confusionMatrix), null) { }

    ClassificationMetrics(int[,] confusion, long[]? topKHits)
    {
        int classes = confusion.GetLength(0);
        _confusion = confusion;
        _topKHits = topKHits;
        _support = new long[classes];
        _predicted = new long[classes];
        long diagonal = 0, total = 0;
        for (int t = 0; t < classes; t++)
            for (int p = 0; p < classes; p++)
            {
                int c = confusion[t, p];
                if (c < 0) throw new ArgumentException($"Confusion counts are non-negative, not {c} at [{t}, {p}].", nameof(confusion));
                _support[t] += c;
                _predicted[p] += c;
                total += c;
                if (t == p) diagonal += c;
            }
        Count = total;
        Accuracy = total == 0 ? double.NaN : (double)diagonal / total;
        _precision = new double[classes];
        _recall = new double[classes];
        _f1 = new double[classes];
        int occurring = 0;
        double sumP = 0, sumR = 0, sumF = 0;
        for (int c = 0; c < classes; c++)
        {
            long tp = confusion[c, c], fp = _predicted[c] - tp, fn = _support[c] - tp;
            _precision[c] = Ratio(tp, tp + fp);
            _recall[c] = Ratio(tp, tp + fn);
            _f1[c] = Ratio(2 * tp, 2 * tp + fp + fn);
            if (_support[c] > 0 || _predicted[c] > 0)
            {
                occurring++;
                sumP += _precision[c];
                sumR += _recall[c];
                sumF += _f1[c];
            }
        }
        MacroPrecision = occurring == 0 ? 0 : sumP / occurring;
        MacroRecall = occurring == 0 ? 0 : sumR / occurring;
        MacroF1 = occurring == 0 ? 0 : sumF / occurring;
    }

    /// <summary>The metrics of <paramref name="predictions"/> against <paramref name="labels"/> over <paramref name="classes"/> classes.</summary>
    public static ClassificationMetrics FromPredictions(ReadOnlySpan<int> labels, ReadOnlySpan<int> predictions, int classes)
    {
        if (labels.Length != predictions.Length)
            throw new ArgumentException($"There are {labels.Length} labels but {predictions.Length} predictions.", nameof(predictions));
        CheckClasses(classes);
        var confusion = new int[classes, classes];
        for (int i = 0; i < labels.Length; i++)
        {
            CheckLabel(labels[i], classes, i, nameof(labels));
            CheckLabel(predictions[i], classes, i, nameof(predictions));
            confusion[labels[i], predictions[i]]++;
        }
        return new ClassificationMetrics(confusion, null);
    }

    /// <summary>
    /// The metrics of row-major <paramref name="logits"/> (one row of <paramref name="classes"/> scores per label)
    /// against <paramref name="labels"/>, with top-k accuracy recorded for k up to <paramref name="maxTopK"/>.
    /// </summary>
    public static ClassificationMetrics FromLogits(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, int maxTopK = DefaultMaxTopK)
    {
        CheckClasses(classes);
        if (maxTopK < 1) throw new ArgumentOutOfRangeException(nameof(maxTopK), $"Top-k needs k of at least 1, not {maxTopK}.");
        if (logits.Length != (long)labels.Length * classes)
            throw new ArgumentException($"{labels.Length} labels over {classes} classes need {(long)labels.Length * classes} logits, not {logits.Length}.", nameof(logits));
        var confusion = new int[classes, classes];
        var hits = new long[Math.Min(maxTopK, classes)];
        for (int i = 0; i < labels.Length; i++)
        {
            CheckLabel(labels[i], classes, i, nameof(labels));
            Accumulate(logits.Slice(i * classes, classes), labels[i], confusion, hits);
        }
        return FromCounts(confusion, hits);
    }

    /// <summary>Adds one sample: its arg-max into <paramref name="confusion"/>, its label's rank into <paramref name="rankCounts"/>. Returns the prediction.</summary>
    internal static int Accumulate(ReadOnlySpan<float> row, int label, int[,] confusion, long[] rankCounts)
    {
        int predicted = ModelBase.ArgMax(row);
        confusion[label, predicted]++;
        int rank = predicted == label ? 0 : Rank(row, label);
        if (rank < rankCounts.Length) rankCounts[rank]++;
        return predicted;
    }

    /// <summary>
    /// Builds metrics from a confusion matrix (taken, not copied) and per-rank counts (<c>rankCounts[r]</c>: samples
    /// whose label ranked r-th), turned into cumulative top-k hits in place.
    /// </summary>
    internal static ClassificationMetrics FromCounts(int[,] confusion, long[] rankCounts)
    {
        for (int k = 1; k < rankCounts.Length; k++) rankCounts[k] += rankCounts[k - 1];
        return new ClassificationMetrics(confusion, rankCounts);
    }

    /// <summary>The number of classes whose logit ranks above the label's: larger, or equal at a lower index.</summary>
    internal static int Rank(ReadOnlySpan<float> row, int label)
    {
        float x = row[label];
        int rank = 0;
        for (int j = 0; j < label; j++) if (row[j] >= x) rank++;
        for (int j = label + 1; j < row.Length; j++) if (row[j] > x) rank++;
        return rank;
    }

    /// <summary>The number of classes.</summary>
    public int Classes => _support.Length;

    /// <summary>The number of samples.</summary>
    public long Count { get; }

    /// <summary>The confusion matrix: counts indexed [true label, predicted class]. Do not modify it.</summary>
    public int[,] ConfusionMatrix => _confusion;

    /// <summary>The fraction of samples predicted correctly (NaN with no samples).</summary>
    public double Accuracy { get; }

    /// <summary>The largest k for which <see cref="TopKAccuracy"/> is known: at least 1, at most <see cref="Classes"/>.</summary>
    public int MaxTopK => _topKHits == null ? 1 : Math.Max(_topKHits.Length, 1);

    /// <summary>
    /// The fraction of samples whose label is among the <paramref name="k"/> highest-scoring classes (ties to the lower
    /// index); 1 for <paramref name="k"/> at least <see cref="Classes"/>, NaN with no samples. Known for k up to
    /// <see cref="MaxTopK"/> (for every k when k reaches the class count).
    /// </summary>
    public double TopKAccuracy(int k)
    {
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), $"Top-k needs k of at least 1, not {k}.");
        if (Count == 0) return double.NaN;
        if (k >= Classes) return 1.0;
        if (k == 1) return Accuracy;
        if (_topKHits == null || k > _topKHits.Length)
            throw new ArgumentOutOfRangeException(nameof(k),
                $"Top-{k} accuracy was not recorded: these metrics know top-k for k up to {MaxTopK} (build them from logits with a larger maxTopK).");
        return (double)_topKHits[k - 1] / Count;
    }

    /// <summary>Per class: tp / (tp + fp), 0 for a class never predicted.</summary>
    public IReadOnlyList<double> Precision => _precision;

    /// <summary>Per class: tp / (tp + fn), 0 for a class with no samples.</summary>
    public IReadOnlyList<double> Recall => _recall;

    /// <summary>Per class: 2·tp / (2·tp + fp + fn), the harmonic mean of precision and recall; 0 when 0/0.</summary>
    public IReadOnlyList<double> F1 => _f1;

    /// <summary>Per class: the number of samples with that label.</summary>
    public IReadOnlyList<long> Support => _support;

    /// <summary>Per class: the number of samples predicted as that class.</summary>
    public IReadOnlyList<long> PredictedCount => _predicted;

    /// <summary>The mean precision over the classes that occur among labels or predictions.</summary>
    public double MacroPrecision { get; }

    /// <summary>The mean recall over the classes that occur among labels or predictions.</summary>
    public double MacroRecall { get; }

    /// <summary>The mean F1 over the classes that occur among labels or predictions.</summary>
    public double MacroF1 { get; }

    static double Ratio(long numerator, long denominator) => denominator == 0 ? 0 : (double)numerator / denominator;

    static int[,] Copy(int[,] confusion)
    {
        ArgumentNullException.ThrowIfNull(confusion);
        if (confusion.GetLength(0) != confusion.GetLength(1) || confusion.GetLength(0) < 1)
            throw new ArgumentException($"A confusion matrix is square with at least one class, not {confusion.GetLength(0)}×{confusion.GetLength(1)}.", nameof(confusion));
        return (int[,])confusion.Clone();
    }

    static void CheckClasses(int classes)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), $"There must be at least one class, not {classes}.");
    }

    static void CheckLabel(int value, int classes, int index, string name)
    {
        if ((uint)value >= (uint)classes)
            throw new ArgumentOutOfRangeException(name, $"Entry {index} of {name} is {value}, outside the classes 0 to {classes - 1}.");
    }
}

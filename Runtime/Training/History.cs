using System;
using System.Collections;
using System.Collections.Generic;

namespace ModelGen;

/// <summary>The outcome of one training epoch.</summary>
public sealed class EpochResult
{
    /// <summary>Records an epoch.</summary>
    public EpochResult(int epoch, int epochs, double trainLoss, double? trainAccuracy, double? validationLoss, double? validationAccuracy,
        double samplesPerSecond, TimeSpan elapsed, int samplesLeftOut = 0)
    {
        Epoch = epoch;
        Epochs = epochs;
        TrainLoss = trainLoss;
        TrainAccuracy = trainAccuracy;
        ValidationLoss = validationLoss;
        ValidationAccuracy = validationAccuracy;
        SamplesPerSecond = samplesPerSecond;
        Elapsed = elapsed;
        SamplesLeftOut = samplesLeftOut;
    }

    /// <summary>The epoch number, from 1.</summary>
    public int Epoch { get; }

    /// <summary>The number of epochs <c>Fit</c> was asked for.</summary>
    public int Epochs { get; }

    /// <summary>The mean training loss over the epoch's samples (each batch loss weighted by its size).</summary>
    public double TrainLoss { get; }

    /// <summary>The fraction of training samples whose arg-max output matched the label (classification), else null.</summary>
    public double? TrainAccuracy { get; }

    /// <summary>The mean validation loss, when <c>Fit</c> had a validation set.</summary>
    public double? ValidationLoss { get; }

    /// <summary>The validation accuracy, when <c>Fit</c> had a classification validation set.</summary>
    public double? ValidationAccuracy { get; }

    /// <summary>Training throughput over the epoch (validation excluded).</summary>
    public double SamplesPerSecond { get; }

    /// <summary>Wall time of the epoch, validation included.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>
    /// Training samples the epoch did not train on: a last partial batch of one sample, which <c>Fit</c> leaves out when
    /// the model has batch normalization over one value per channel (<see cref="ModelDescription.MinTrainingBatch"/>).
    /// The sample differs from epoch to epoch, as the shuffle does. Usually 0.
    /// </summary>
    public int SamplesLeftOut { get; }

    /// <summary>The epoch's summary line, as <c>Fit</c> prints it.</summary>
    public override string ToString() => Progress.EpochLine(this);
}

/// <summary>What <c>Fit</c> returns: one <see cref="EpochResult"/> per epoch run.</summary>
public sealed class History : IReadOnlyList<EpochResult>
{
    readonly List<EpochResult> _epochs;

    internal History(int capacity) => _epochs = new List<EpochResult>(capacity);

    internal void Add(EpochResult result) => _epochs.Add(result);

    /// <summary>The number of epochs run.</summary>
    public int Count => _epochs.Count;

    /// <summary>Epoch <paramref name="index"/> (from 0).</summary>
    public EpochResult this[int index] => _epochs[index];

    /// <summary>The last epoch run, or null when none ran.</summary>
    public EpochResult? Last => _epochs.Count == 0 ? null : _epochs[^1];

    /// <summary>Whether a callback stopped training before the requested number of epochs.</summary>
    public bool StoppedEarly { get; internal set; }

    /// <inheritdoc/>
    public IEnumerator<EpochResult> GetEnumerator() => _epochs.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>The result of <c>Evaluate</c>.</summary>
public sealed class Evaluation
{
    internal Evaluation(int count, double loss, double? accuracy, int[,]? confusionMatrix)
    {
        Count = count;
        Loss = loss;
        Accuracy = accuracy;
        ConfusionMatrix = confusionMatrix;
    }

    internal Evaluation(int count, double loss, ClassificationMetrics metrics) : this(count, loss, metrics.Accuracy, metrics.ConfusionMatrix) =>
        Metrics = metrics;

    /// <summary>The number of samples evaluated.</summary>
    public int Count { get; }

    /// <summary>
    /// The loss: the model's own [Loss] on its inference outputs, per batch, averaged over the batches weighted by their
    /// sample counts (for a loss that averages over samples, its value on the whole set).
    /// </summary>
    public double Loss { get; }

    /// <summary>The fraction of samples whose arg-max output equals the label (classification), else null.</summary>
    public double? Accuracy { get; }

    /// <summary>Classification: counts indexed [true label, predicted class]; null for regression.</summary>
    public int[,]? ConfusionMatrix { get; }

    /// <summary>
    /// Classification: every metric of the confusion matrix (per-class precision, recall, F1, macro averages) and top-k
    /// accuracy for k up to <see cref="ClassificationMetrics.DefaultMaxTopK"/>; null for regression.
    /// </summary>
    public ClassificationMetrics? Metrics { get; }

    /// <summary>
    /// Classification: the fraction of samples whose label is among the <paramref name="k"/> highest outputs (k from 1
    /// to 5, or any k at least the class count); see <see cref="ClassificationMetrics.TopKAccuracy"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model is not a classifier.</exception>
    public double TopKAccuracy(int k) => Metrics?.TopKAccuracy(k)
        ?? throw new InvalidOperationException("Top-k accuracy needs a classifier (a model trained on labels).");

    /// <summary>Classification: per-class precision (0 for a class never predicted); null for regression.</summary>
    public IReadOnlyList<double>? Precision => Metrics?.Precision;

    /// <summary>Classification: per-class recall (0 for a class with no samples); null for regression.</summary>
    public IReadOnlyList<double>? Recall => Metrics?.Recall;

    /// <summary>Classification: per-class F1; null for regression.</summary>
    public IReadOnlyList<double>? F1 => Metrics?.F1;

    /// <summary>Classification: the mean F1 over the classes that occur among labels or predictions; null for regression.</summary>
    public double? MacroF1 => Metrics?.MacroF1;

    /// <inheritdoc/>
    public override string ToString() => Accuracy is double a
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Count} samples  loss {Loss:F4}  acc {a:F4}")
        : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Count} samples  loss {Loss:F4}");
}

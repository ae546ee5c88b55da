using System;

namespace ModelGen;

/// <summary>
/// Samples in memory: one flat float array of features (sample after sample, each of <see cref="SampleShape"/>)
/// and either integer class labels or float targets. <c>Fit</c>, <c>Evaluate</c> and the loaders batch from it.
/// </summary>
public sealed class Dataset
{
    /// <summary>A classification set: features and one class label per sample.</summary>
    public Dataset(float[] features, int[] sampleShape, int[] labels, int classCount)
        : this(features, sampleShape, labels, null, classCount) { }

    /// <summary>A regression set: features and a target tensor of <paramref name="targetShape"/> per sample.</summary>
    public Dataset(float[] features, int[] sampleShape, float[] targets, int[] targetShape)
        : this(features, sampleShape, null, targets, 0, targetShape) { }

    Dataset(float[] features, int[] sampleShape, int[]? labels, float[]? targets, int classCount, int[]? targetShape = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(sampleShape);
        SampleLength = Tensor.ShapeLength(sampleShape);
        if (SampleLength == 0) throw new ArgumentException("A sample has at least one element.", nameof(sampleShape));
        if (features.Length % SampleLength != 0)
            throw new ArgumentException($"{features.Length} features are not a whole number of samples of shape {Tensor.FormatShape(sampleShape)}.", nameof(features));
        Count = features.Length / SampleLength;
        Features = features;
        SampleShape = (int[])sampleShape.Clone();
        labels = (int[]?)labels?.Clone();   // the set's own copy, checked once: the caller may change its array later
        if (labels != null)
        {
            if (labels.Length != Count) throw new ArgumentException($"{labels.Length} labels for {Count} samples.", nameof(labels));
            if (classCount < 1) throw new ArgumentOutOfRangeException(nameof(classCount), "A classification set has at least one class.");
            for (int i = 0; i < labels.Length; i++)
                if ((uint)labels[i] >= (uint)classCount)
                    throw new ArgumentException($"Label {labels[i]} of sample {i} is outside 0..{classCount - 1}.", nameof(labels));
        }
        if (targets != null)
        {
            TargetShape = (int[])targetShape!.Clone();
            TargetLength = Tensor.ShapeLength(targetShape);
            if (targets.Length != (long)Count * TargetLength)
                throw new ArgumentException($"{targets.Length} target floats for {Count} samples of shape {Tensor.FormatShape(targetShape)}.", nameof(targets));
        }
        Labels = labels;
        Targets = targets;
        ClassCount = classCount;
    }

    /// <summary>The number of samples.</summary>
    public int Count { get; }

    /// <summary>The shape of one sample (no batch dimension).</summary>
    public int[] SampleShape { get; }

    /// <summary>Floats per sample.</summary>
    public int SampleLength { get; }

    /// <summary>All features, <see cref="Count"/> x <see cref="SampleLength"/> floats.</summary>
    public float[] Features { get; }

    /// <summary>Class labels (classification), else null: the set's own copy of the labels it was made with, checked then.</summary>
    public int[]? Labels { get; }

    /// <summary>The number of classes (classification), else 0.</summary>
    public int ClassCount { get; }

    /// <summary>Targets (regression), <see cref="Count"/> x <see cref="TargetLength"/> floats, else null.</summary>
    public float[]? Targets { get; }

    /// <summary>The shape of one target (regression), else null.</summary>
    public int[]? TargetShape { get; }

    /// <summary>Floats per target (regression), else 0.</summary>
    public int TargetLength { get; }

    /// <summary>The features of sample <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Sample(int index) => Features.AsSpan(checked(index * SampleLength), SampleLength);

    /// <summary>The mean and standard deviation of all features (computed in double).</summary>
    public (float Mean, float Std) FeatureStatistics()
    {
        double sum = 0, sumSquares = 0;
        foreach (float x in Features)
        {
            sum += x;
            sumSquares += (double)x * x;
        }
        double mean = sum / Features.Length;
        return ((float)mean, (float)Math.Sqrt(Math.Max(0, sumSquares / Features.Length - mean * mean)));
    }

    /// <summary>
    /// Standardizes the features in place: x ← (x − <paramref name="mean"/>) / <paramref name="std"/>. Use the
    /// training set's <see cref="FeatureStatistics"/> for the training, validation and test sets alike.
    /// </summary>
    public void Standardize(float mean, float std)
    {
        if (!(std > 0) || float.IsInfinity(std)) throw new ArgumentOutOfRangeException(nameof(std), $"The standard deviation must be positive and finite, not {std}.");
        float scale = 1f / std;
        for (int i = 0; i < Features.Length; i++) Features[i] = (Features[i] - mean) * scale;
    }

    /// <summary>The first <paramref name="count"/> samples (a copy), e.g. for a quick run.</summary>
    public Dataset Take(int count) => Slice(0, Math.Min(count, Count));

    /// <summary>Samples [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) as a new set (a copy).</summary>
    public Dataset Slice(int start, int count)
    {
        if (start < 0 || count < 0 || start + count > Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"Samples {start}..{start + count} are outside 0..{Count}.");
        var features = Features.AsSpan(start * SampleLength, count * SampleLength).ToArray();
        return Labels != null
            ? new Dataset(features, SampleShape, Labels.AsSpan(start, count).ToArray(), ClassCount)
            : new Dataset(features, SampleShape, Targets!.AsSpan(start * TargetLength, count * TargetLength).ToArray(), TargetShape!);
    }
}

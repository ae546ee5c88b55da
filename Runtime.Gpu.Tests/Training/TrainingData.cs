using System;
using System.IO;
using System.Linq;
using CharSamples;
using Xunit;

namespace ModelGen.Gpu.Tests.Training;

/// <summary>
/// Batches and comparisons shared by the training tests: a few Fashion-MNIST images (standardized as the sample
/// standardizes them), random character windows with one-hot next-character targets (as <see cref="CharCorpus.Batch"/>
/// builds them), and tolerances relative to a tensor's scale.
/// </summary>
internal static class TrainingData
{
    /// <summary>The first training images we use (enough for every test; copied out of the full set once).</summary>
    const int Images = 64;

    static readonly Lazy<(Dataset Flat, Dataset Images, string Source)> Fashion = new(LoadFashion);

    /// <summary>
    /// The first 64 Fashion-MNIST training images, flat (784) and as (1, 28, 28), standardized with the training set's
    /// statistics. Where the data set is not installed (a bare GPU machine), seeded synthetic images with labels stand in,
    /// so the device comparisons still run; <see cref="FashionSource"/> says which.
    /// </summary>
    static (Dataset, Dataset, string) LoadFashion()
    {
        try
        {
            var flat = FashionMnist.Load().Train;
            var (mean, std) = flat.FeatureStatistics();
            var few = flat.Take(Images);
            few.Standardize(mean, std);
            var images = new Dataset(few.Features.ToArray(), new[] { 1, 28, 28 }, few.Labels!.ToArray(), few.ClassCount);
            return (few, images, "Fashion-MNIST " + FashionMnist.FindDirectory());
        }
        catch (FileNotFoundException)
        {
            var rng = new Random(7);
            var features = new float[Images * 784];
            for (int i = 0; i < features.Length; i++) features[i] = rng.NextDouble() < 0.5 ? 0f : (float)(rng.NextDouble() * 3 - 1);
            var labels = Enumerable.Range(0, Images).Select(_ => rng.Next(10)).ToArray();
            return (new Dataset(features, new[] { 784 }, labels, 10), new Dataset(features.ToArray(), new[] { 1, 28, 28 }, labels.ToArray(), 10),
                "synthetic images (Fashion-MNIST is not installed)");
        }
    }

    /// <summary>Where the images come from.</summary>
    public static string FashionSource => Fashion.Value.Source;

    /// <summary>The images flattened to 784 floats (the MLP's input).</summary>
    public static Dataset FashionFlat => Fashion.Value.Flat;

    /// <summary>The images as (1, 28, 28) (the CNN's input).</summary>
    public static Dataset FashionImages => Fashion.Value.Images;

    /// <summary>A batch of the images: <paramref name="count"/> samples from <paramref name="start"/>.</summary>
    public static (float[] Input, int[] Labels) FashionBatch(Dataset set, int start, int count) =>
        (set.Features.AsSpan(start * set.SampleLength, count * set.SampleLength).ToArray(), set.Labels!.AsSpan(start, count).ToArray());

    /// <summary>
    /// A batch of <paramref name="batch"/> random windows of <paramref name="time"/> symbol ids (as floats) and their
    /// one-hot next-character targets (batch, time, 96), cut by the samples' own <see cref="CharCorpus.Batch"/> from a
    /// seeded random text of the 96 symbols (the tests need no corpus installed).
    /// </summary>
    public static (float[] Ids, float[] Targets) CharBatch(int batch, int time, int seed)
    {
        var rng = new Random(seed);
        var text = new byte[4096];
        for (int i = 0; i < text.Length; i++) text[i] = (byte)rng.Next(CharCorpus.Vocabulary);
        var ids = new float[batch * time];
        var targets = new float[batch * time * CharCorpus.Vocabulary];
        new CharCorpus(string.Empty, string.Empty).Batch(rng, text, batch, time, ids, targets);
        return (ids, targets);
    }

    /// <summary>Floats of one output of <paramref name="model"/>.</summary>
    public static int OutputLength(ModelBase model) => model.Description.OutputShape.Aggregate(1, (a, b) => a * b);

    /// <summary>Asserts <c>|actual - expected| ≤ rtol·|expected| + atol</c> for one scalar.</summary>
    public static void ScalarClose(double expected, double actual, double rtol, double atol, string what)
    {
        double diff = Math.Abs(actual - expected);
        if (!(diff <= rtol * Math.Abs(expected) + atol))
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R} (|diff| {diff:E3} > {rtol:E1}·|expected| + {atol:E1})");
    }

    /// <summary>
    /// Asserts every element of <paramref name="actual"/> within <paramref name="tolerance"/> × the scale of
    /// <paramref name="expected"/> (its largest magnitude, at least 1e-3), naming the first that is not; returns the
    /// largest difference over the scale.
    /// </summary>
    public static double ScaleClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1e-3;
        foreach (float v in expected) scale = Math.Max(scale, Math.Abs(v));
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)expected[i] - actual[i]);
            if (!(diff <= tolerance * scale))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R} (|diff| {diff:E3} > {tolerance:E1} x scale {scale:G4})");
            worst = Math.Max(worst, diff / scale);
        }
        return worst;
    }

    /// <summary>
    /// Every parameter tensor of <paramref name="actual"/> against the same tensor of <paramref name="expected"/> (host
    /// stores: sync a device model first) within <paramref name="tolerance"/> of the tensor's scale; returns the largest
    /// relative difference of any tensor, and that tensor.
    /// </summary>
    public static (double Worst, string Name) ParametersClose(ModelBase expected, ModelBase actual, double tolerance, string what)
    {
        double worst = 0;
        string name = "";
        foreach (var p in expected.Parameters)
        {
            var e = expected.Parameters.Values.Slice(p.Info.Offset, p.Info.Length);
            var a = actual.Parameters.Values.Slice(p.Info.Offset, p.Info.Length);
            double d = ScaleClose(e, a, tolerance, $"{what}: parameter {p.Name}");
            if (d >= worst) (worst, name) = (d, p.Name);
        }
        return (worst, name);
    }
}

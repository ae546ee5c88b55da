using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Xunit;
using Xunit.Abstractions;

namespace ModelGen.Runtime.Tests.Data;

/// <summary>
/// Runs alone: one test sets FASHION_MNIST_DIR for the whole process, which must not leak into other tests that
/// load the data set.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FashionMnistEnvironment
{
    public const string Name = "FashionMnist environment";
}

[Collection(FashionMnistEnvironment.Name)]
public class FashionMnistTests
{
    readonly ITestOutputHelper _output;

    public FashionMnistTests(ITestOutputHelper output) => _output = output;

    static byte Pixel(int image, int index) => (byte)((image * 31 + index * 7) % 256);

    /// <summary>Writes a tiny data set: train 5 images (gzipped), test 3 images (plain).</summary>
    static void WriteTiny(string directory, int[] trainLabels, int[] testLabels)
    {
        void Split(string prefix, int[] labels, bool gzip)
        {
            int n = labels.Length;
            var pixels = new byte[n * 784];
            for (int i = 0; i < n; i++)
                for (int p = 0; p < 784; p++) pixels[i * 784 + p] = Pixel(i, p);
            string suffix = gzip ? ".gz" : "";
            Idx.Write(Path.Combine(directory, prefix + "-images-idx3-ubyte" + suffix), new[] { n, 28, 28 }, pixels, gzip);
            Idx.Write(Path.Combine(directory, prefix + "-labels-idx1-ubyte" + suffix), new[] { n }, labels.Select(l => (byte)l).ToArray(), gzip);
        }
        Split("train", trainLabels, gzip: true);
        Split("t10k", testLabels, gzip: false);
    }

    static readonly int[] TrainLabels = { 9, 0, 3, 7, 1 };
    static readonly int[] TestLabels = { 2, 8, 5 };

    static void CheckTiny(Dataset set, int[] labels)
    {
        Assert.Equal(labels.Length, set.Count);
        Assert.Equal(labels, set.Labels);
        Assert.Equal(10, set.ClassCount);
        for (int i = 0; i < set.Count; i++)
        {
            var sample = set.Sample(i);
            Assert.Equal(784, sample.Length);
            for (int p = 0; p < 784; p++) Assert.Equal(Pixel(i, p) / 255f, sample[p]);
        }
    }

    [Fact]
    public void LoadsTinyFilesFromAnExplicitDirectory()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir.Path, TrainLabels, TestLabels);
        var data = FashionMnist.Load(dir.Path);
        Assert.Equal(new[] { 784 }, data.Train.SampleShape);
        CheckTiny(data.Train, TrainLabels);
        CheckTiny(data.Test, TestLabels);
        Assert.Equal(Pixel(4, 783) / 255f, data.Train.Features[4 * 784 + 783]);
    }

    [Fact]
    public void LoadImagesKeepsChannelHeightWidth()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir.Path, TrainLabels, TestLabels);
        var images = FashionMnist.LoadImages(dir.Path);
        Assert.Equal(new[] { 1, 28, 28 }, images.Train.SampleShape);
        Assert.Equal(new[] { 1, 28, 28 }, images.Test.SampleShape);
        CheckTiny(images.Train, TrainLabels);
        CheckTiny(images.Test, TestLabels);
    }

    [Fact]
    public void MissingDirectoryErrorSaysWhereItLookedAndHowToInstall()
    {
        using var dir = new TempDirectory();
        string absent = Path.Combine(dir.Path, "nowhere");
        var e = Assert.Throws<FileNotFoundException>(() => FashionMnist.Load(absent));
        Assert.Contains(absent + " (the directory argument): no such directory", e.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains("FASHION_MNIST_DIR", e.Message);

        // Neither the environment variable nor the default has the files: both are listed.
        string emptyDefault = Path.Combine(dir.Path, "default");
        Directory.CreateDirectory(emptyDefault);
        File.WriteAllBytes(Path.Combine(emptyDefault, "train-images-idx3-ubyte.gz"), new byte[1]);
        e = Assert.Throws<FileNotFoundException>(() => FashionMnist.FindDirectory(null, absent, emptyDefault));
        Assert.Contains(absent + " (from $FASHION_MNIST_DIR): no such directory", e.Message);
        Assert.Contains(emptyDefault + " (the default): missing train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]", e.Message);
        Assert.Contains("sudo apt-get install dataset-fashion-mnist", e.Message);

        e = Assert.Throws<FileNotFoundException>(() => FashionMnist.FindDirectory(null, null, absent));
        Assert.Contains("$FASHION_MNIST_DIR: not set", e.Message);
        Assert.Contains(absent + " (the default): no such directory", e.Message);
    }

    [Fact]
    public void SearchOrderIsArgumentThenEnvironmentThenDefault()
    {
        using var a = new TempDirectory();
        using var b = new TempDirectory();
        WriteTiny(a.Path, TrainLabels, TestLabels);
        WriteTiny(b.Path, TrainLabels, TestLabels);
        Assert.Equal(a.Path, FashionMnist.FindDirectory(a.Path, b.Path, b.Path));
        Assert.Equal(a.Path, FashionMnist.FindDirectory(null, a.Path, b.Path));
        Assert.Equal(b.Path, FashionMnist.FindDirectory(null, "", b.Path));
        Assert.Equal(b.Path, FashionMnist.FindDirectory(null, Path.Combine(a.Path, "typo"), b.Path));
        // An explicit argument is authoritative: no fallback to the others.
        Assert.Throws<FileNotFoundException>(() => FashionMnist.FindDirectory(Path.Combine(a.Path, "typo"), a.Path, b.Path));
    }

    [Fact]
    public void EnvironmentVariableIsHonoured()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir.Path, TrainLabels, TestLabels);
        string? saved = Environment.GetEnvironmentVariable(FashionMnist.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, dir.Path);
            Assert.Equal(dir.Path, FashionMnist.FindDirectory());
            var data = FashionMnist.Load();
            CheckTiny(data.Train, TrainLabels);
            CheckTiny(data.Test, TestLabels);
        }
        finally
        {
            Environment.SetEnvironmentVariable(FashionMnist.EnvironmentVariable, saved);
        }
    }

    [Fact]
    public void MismatchedCountsAndBadLabelsNameTheFile()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir.Path, TrainLabels, TestLabels);
        string labels = Path.Combine(dir.Path, "t10k-labels-idx1-ubyte");
        Idx.Write(labels, new[] { 2 }, new byte[] { 1, 2 });
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir.Path));
        Assert.Contains(labels + ": 2 labels for the 3 images", e.Message);

        Idx.Write(labels, new[] { 3 }, new byte[] { 1, 10, 2 });
        e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir.Path));
        Assert.Contains(labels + ": label 10 of sample 1 is outside 0..9", e.Message);

        Idx.Write(labels, new[] { 3 }, new byte[] { 1, 2, 3 });
        string images = Path.Combine(dir.Path, "t10k-images-idx3-ubyte");
        Idx.Write(images, new[] { 3, 28, 27 }, new byte[3 * 28 * 27]);
        e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(dir.Path));
        Assert.Contains(images + ": expected unsigned-byte images of shape (count, 28, 28), found UnsignedByte of shape (3, 28, 27)", e.Message);
    }

    [Fact]
    public void ClassNamesAreTheTenFashionMnistClasses()
    {
        Assert.Equal(
            new[] { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" },
            FashionMnist.ClassNames);
    }

    /// <summary>
    /// The real data set, as the Debian package installs it. CI installs the package, so a missing directory is a
    /// failure here, not a skip.
    /// </summary>
    [Fact]
    public void RealDataSetHasTheDocumentedShape()
    {
        Assert.True(Directory.Exists(FashionMnist.DefaultDirectory),
            $"{FashionMnist.DefaultDirectory} does not exist: install the data with `sudo apt-get install dataset-fashion-mnist` (CI installs it).");

        var clock = Stopwatch.StartNew();
        var data = FashionMnist.Load(FashionMnist.DefaultDirectory);
        _output.WriteLine($"FashionMnist.Load: {clock.Elapsed.TotalMilliseconds:F0} ms");

        Assert.Equal(60000, data.Train.Count);
        Assert.Equal(10000, data.Test.Count);
        Assert.Equal(new[] { 784 }, data.Train.SampleShape);
        Assert.Equal(60000 * 784, data.Train.Features.Length);
        Assert.Equal(new[] { 9, 0, 0, 3, 0, 2, 7, 2 }, data.Train.Labels!.Take(8));
        Assert.Equal(new[] { 9, 2, 1, 1, 6, 1, 4, 6 }, data.Test.Labels!.Take(8));

        Assert.All(Histogram(data.Train), n => Assert.Equal(6000, n));
        Assert.All(Histogram(data.Test), n => Assert.Equal(1000, n));

        foreach (var set in new[] { data.Train, data.Test })
        {
            float min = set.Features.Min(), max = set.Features.Max();
            Assert.Equal(0f, min);
            Assert.Equal(1f, max);
        }
        // The first training image (an ankle boot): its 784 bytes sum to 76247.
        double sum = 0;
        foreach (float x in data.Train.Sample(0)) sum += x;
        Assert.Equal(76247 / 255.0, sum, 3);

        var images = FashionMnist.LoadImages(FashionMnist.DefaultDirectory);
        Assert.Equal(new[] { 1, 28, 28 }, images.Test.SampleShape);
        Assert.Equal(data.Test.Features, images.Test.Features);
    }

    static int[] Histogram(Dataset set)
    {
        var counts = new int[set.ClassCount];
        foreach (int label in set.Labels!) counts[label]++;
        Assert.Equal(10, counts.Length);
        return counts;
    }
}

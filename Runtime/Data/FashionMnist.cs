using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using System.Threading.Tasks;

namespace ModelGen;

/// <summary>A training set and a test set.</summary>
/// <param name="Train">The samples to train on.</param>
/// <param name="Test">The held-out samples to evaluate on.</param>
public sealed record DatasetPair(Dataset Train, Dataset Test);

/// <summary>
/// Fashion-MNIST (Zalando): 70,000 grayscale 28x28 images of clothing in 10 classes, 60,000 for training and
/// 10,000 for testing, read from the four IDX files of the Debian package <c>dataset-fashion-mnist</c> or any
/// directory holding them (gzipped or not). Pixels are scaled to [0, 1].
/// </summary>
public static class FashionMnist
{
    /// <summary>The environment variable naming a directory that holds the IDX files.</summary>
    public const string EnvironmentVariable = "FASHION_MNIST_DIR";

    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Image height and width in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>The number of classes.</summary>
    public const int ClassCount = 10;

    /// <summary>The file names without the optional <c>.gz</c>: train images, train labels, test images, test labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } = Array.AsReadOnly(new[]
    {
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    });

    /// <summary>The class names, indexed by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = Array.AsReadOnly(new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    });

    /// <summary>
    /// Loads the training and test sets with each image flattened to 784 floats (sample shape (784), what an MLP
    /// takes). With <paramref name="directory"/> the files are read from there and nowhere else; without it the
    /// directory named by <c>$FASHION_MNIST_DIR</c> is tried, then <see cref="DefaultDirectory"/>. Throws
    /// <see cref="FileNotFoundException"/> listing the places looked at and how to install the data when none
    /// has the files, and <see cref="InvalidDataException"/> naming the file when one is corrupt.
    /// </summary>
    public static DatasetPair Load(string? directory = null) => LoadFrom(FindDirectory(directory), flat: true);

    /// <summary>
    /// Like <see cref="Load"/>, with each sample kept as an image of shape (1, 28, 28) (channels, height, width)
    /// for convolutional models.
    /// </summary>
    public static DatasetPair LoadImages(string? directory = null) => LoadFrom(FindDirectory(directory), flat: false);

    /// <summary>
    /// The directory <see cref="Load"/> would read: <paramref name="directory"/> when given, else the first of
    /// <c>$FASHION_MNIST_DIR</c> and <see cref="DefaultDirectory"/> that holds all four files.
    /// </summary>
    public static string FindDirectory(string? directory = null) =>
        FindDirectory(directory, Environment.GetEnvironmentVariable(EnvironmentVariable), DefaultDirectory);

    /// <summary>The search, with the environment variable's value and the default directory passed in (for tests).</summary>
    internal static string FindDirectory(string? directory, string? environmentValue, string defaultDirectory)
    {
        var looked = new StringBuilder();
        if (directory != null)
        {
            if (Missing(directory) is not { } why) return directory;
            looked.Append($"  {directory} (the directory argument): {why}\n");
        }
        else
        {
            if (string.IsNullOrEmpty(environmentValue))
                looked.Append($"  ${EnvironmentVariable}: not set\n");
            else if (Missing(environmentValue) is { } why)
                looked.Append($"  {environmentValue} (from ${EnvironmentVariable}): {why}\n");
            else
                return environmentValue;

            if (Missing(defaultDirectory) is { } whyDefault)
                looked.Append($"  {defaultDirectory} (the default): {whyDefault}\n");
            else
                return defaultDirectory;
        }
        throw new FileNotFoundException(
            "Fashion-MNIST was not found. Looked in:\n" + looked +
            "Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; it installs into " + DefaultDirectory +
            "), or set " + EnvironmentVariable + " to a directory holding " + string.Join(", ", FileNames) +
            " (each may be gzipped, with a .gz suffix).");
    }

    /// <summary>Why <paramref name="directory"/> cannot be used, or null when it holds all four files.</summary>
    static string? Missing(string directory)
    {
        if (!Directory.Exists(directory)) return "no such directory";
        var missing = new List<string>();
        foreach (var name in FileNames)
            if (Resolve(directory, name) == null) missing.Add(name + "[.gz]");
        return missing.Count == 0 ? null : "missing " + string.Join(", ", missing);
    }

    /// <summary>The path of <paramref name="name"/> in <paramref name="directory"/>, plain preferred over gzipped, or null.</summary>
    static string? Resolve(string directory, string name)
    {
        string plain = Path.Combine(directory, name);
        if (File.Exists(plain)) return plain;
        string gz = plain + ".gz";
        return File.Exists(gz) ? gz : null;
    }

    /// <summary>Reads the four files of <paramref name="directory"/>; the two splits are decoded in parallel.</summary>
    internal static DatasetPair LoadFrom(string directory, bool flat)
    {
        string Path(int i) => Resolve(directory, FileNames[i])
            ?? throw new FileNotFoundException($"{System.IO.Path.Combine(directory, FileNames[i])}[.gz] does not exist.");
        string trainImages = Path(0), trainLabels = Path(1), testImages = Path(2), testLabels = Path(3);
        var test = Task.Run(() => LoadSplit(testImages, testLabels, flat));
        var train = LoadSplit(trainImages, trainLabels, flat);
        return new DatasetPair(train, test.GetAwaiter().GetResult());
    }

    static Dataset LoadSplit(string imagesPath, string labelsPath, bool flat)
    {
        var labelsTask = Task.Run(() => Idx.Read(labelsPath));
        var images = Idx.Read(imagesPath);
        var labelFile = labelsTask.GetAwaiter().GetResult();

        if (images.DataType != IdxDataType.UnsignedByte || images.Rank != 3 || images.Dimensions[1] != ImageSize || images.Dimensions[2] != ImageSize)
            throw new InvalidDataException(
                $"{imagesPath}: expected unsigned-byte images of shape (count, {ImageSize}, {ImageSize}), found {images.DataType} of shape {Tensor.FormatShape(images.Dimensions)}.");
        if (labelFile.DataType != IdxDataType.UnsignedByte || labelFile.Rank != 1)
            throw new InvalidDataException(
                $"{labelsPath}: expected unsigned-byte labels of shape (count), found {labelFile.DataType} of shape {Tensor.FormatShape(labelFile.Dimensions)}.");
        int count = images.Dimensions[0];
        if (labelFile.Length != count)
            throw new InvalidDataException($"{labelsPath}: {labelFile.Length} labels for the {count} images of {imagesPath}.");

        var bytes = labelFile.Bytes!;
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            if (bytes[i] >= ClassCount)
                throw new InvalidDataException($"{labelsPath}: label {bytes[i]} of sample {i} is outside 0..{ClassCount - 1}.");
            labels[i] = bytes[i];
        }

        var features = GC.AllocateUninitializedArray<float>(images.Length); // every element is written below
        Idx.BytesToFloats(images.Bytes!, features, 255f);
        int[] shape = flat ? new[] { ImageSize * ImageSize } : new[] { 1, ImageSize, ImageSize };
        return new Dataset(features, shape, labels, ClassCount);
    }
}

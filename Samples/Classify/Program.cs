using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using ClassifySample;
using ModelGen;

// Classifies Fashion-MNIST images with a trained checkpoint: a native (NativeAOT) app with nothing else installed.
//
//   Classify [--model PATH] [--top K] INPUT...
//   INPUT   an image file: PNG, PGM or PPM, 28 x 28, gray or color (white garment on black, as in Fashion-MNIST), or
//           records of an IDX image file: t10k-images-idx3-ubyte.gz:0-9 (records 0 to 9), FILE:42, or FILE (all)
//   --model a checkpoint of FashionMlp or FashionCnn with its input normalisation in the metadata
//           (default: zoo/fashion-cnn.safetensors next to the binary, then in the repository)
//   --top   how many classes to print per input (default 1)
//
// Prints one line per input: the input, the class and its probability (softmax of the logits).

string? modelPath = null;
int top = 1;
var inputs = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--model": modelPath = Next(); break;
        case "--top":
            if (!int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out top) || top is < 1 or > 10)
                return Fail("--top takes a number from 1 to 10.");
            break;
        case "-h" or "--help":
            Console.WriteLine("Classify [--model PATH] [--top K] INPUT...   INPUT: image.png|image.pgm|image.ppm|images-idx3-ubyte[.gz][:N[-M]]");
            return 0;
        default:
            if (args[i].StartsWith("--", StringComparison.Ordinal)) return Fail($"Unknown option '{args[i]}'. Options: --model PATH --top K");
            inputs.Add(args[i]);
            break;
    }
}
if (inputs.Count == 0) return Fail("Nothing to classify: give image files or IDX records (Classify --help).");
modelPath ??= DefaultModel();
if (modelPath == null) return Fail("No checkpoint given and no zoo/fashion-cnn.safetensors found: pass --model PATH.");

try
{
    var classifier = Classifier.Load(modelPath);
    foreach (string input in inputs)
        foreach (var (name, pixels) in Inputs.Read(input))
            Console.WriteLine($"{name}  {classifier.Describe(pixels, top)}");
    return 0;
}
catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
{
    return Fail(e.Message);
}

static int Fail(string message)
{
    Console.Error.WriteLine(message);
    return 1;
}

static string? DefaultModel()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
    {
        string candidate = Path.Combine(dir.FullName, "zoo", "fashion-cnn.safetensors");
        if (File.Exists(candidate)) return candidate;
    }
    return null;
}

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using FashionMnistSample;
using ModelGen;

namespace ClassifySample;

/// <summary>A trained Fashion-MNIST model with the input normalisation it was trained with.</summary>
sealed class Classifier
{
    readonly ModelBase _model;
    readonly int[] _inputShape;
    readonly float _mean, _std;

    Classifier(ModelBase model, int[] inputShape, float mean, float std) => (_model, _inputShape, _mean, _std) = (model, inputShape, mean, std);

    /// <summary>
    /// Reads the checkpoint's metadata for the model class (<c>modelgen.model</c>) and the pixel mean and deviation
    /// (<c>preprocess.mean</c>, <c>preprocess.std</c>), builds that model and loads its parameters.
    /// </summary>
    public static Classifier Load(string path)
    {
        var metadata = SafeTensors.ReadMetadata(path);
        string model = metadata.TryGetValue("modelgen.model", out var m) ? m : "(none)";
        (ModelBase Model, int[] Shape) built = model switch
        {
            "FashionMlp" => (new FashionMlp(seed: 0), new[] { 784 }),
            "FashionCnn" => (new FashionCnn(seed: 0), new[] { 1, 28, 28 }),
            _ => throw new InvalidDataException($"'{path}' holds a checkpoint of model '{model}'; this app classifies with FashionMlp or FashionCnn."),
        };
        float Stat(string key) =>
            metadata.TryGetValue(key, out var text) && float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v)
                ? v
                : throw new InvalidDataException($"'{path}' has no valid metadata '{key}' (the pixel normalisation the model was trained with); save it with the Fashion-MNIST sample.");
        float mean = Stat("preprocess.mean"), std = Stat("preprocess.std");
        if (std <= 0) throw new InvalidDataException($"'{path}': preprocess.std is {std}, not positive.");
        built.Model.Load(path);
        return new Classifier(built.Model, built.Shape, mean, std);
    }

    /// <summary>The <paramref name="top"/> most likely classes of a 28 × 28 image (pixels in [0, 1]) with their probabilities.</summary>
    public string Describe(float[] pixels, int top)
    {
        var input = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) input[i] = (pixels[i] - _mean) / _std;
        var logits = _model.Predict(new Tensor(input, _inputShape)).Data;
        float max = float.NegativeInfinity;
        foreach (float l in logits) max = MathF.Max(max, l);
        var probabilities = new double[logits.Length];
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += probabilities[i] = Math.Exp(logits[i] - max);
        var text = new StringBuilder();
        foreach (int c in Enumerable.Range(0, logits.Length).OrderByDescending(c => probabilities[c]).Take(top))
            text.Append(CultureInfo.InvariantCulture, $"{FashionMnist.ClassNames[c],-12}{probabilities[c] / sum,7:0.0000}   ");
        return text.ToString().TrimEnd();
    }
}

/// <summary>Turns a command-line input into named 28 × 28 images with pixels in [0, 1].</summary>
static class Inputs
{
    const int Side = FashionMnist.ImageSize;

    public static IEnumerable<(string Name, float[] Pixels)> Read(string input)
    {
        // "FILE:N" or "FILE:N-M" selects IDX records; an image or IDX file otherwise.
        string path = input;
        (int First, int Last)? range = null;
        int colon = input.LastIndexOf(':');
        if (colon > 0 && !File.Exists(input))
        {
            path = input[..colon];
            range = ParseRange(input[(colon + 1)..], input);
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"'{path}' does not exist.", path);
        if (IsIdx(path)) return ReadIdx(path, range);
        if (range != null) throw new ArgumentException($"'{input}': record numbers apply to IDX files only, and '{path}' is not one.");
        var image = ImageFile.ReadGray(path);
        if (image.Width != Side || image.Height != Side)
            throw new InvalidDataException($"'{path}' is {image.Width} x {image.Height} pixels; the model reads {Side} x {Side} images.");
        return new[] { (path, image.Pixels) };
    }

    static (int, int) ParseRange(string text, string input)
    {
        string[] parts = text.Split('-');
        if (parts.Length is 1 or 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int first))
        {
            int last = first;
            if (parts.Length == 1 || int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out last))
                if (last >= first) return (first, last);
        }
        throw new ArgumentException($"'{input}': after ':' give a record number or a range such as 0-9.");
    }

    // IDX files start with two zero bytes, then the data type and the rank (gzip-compressed ones with 0x1f 0x8b).
    static bool IsIdx(string path)
    {
        Span<byte> head = stackalloc byte[2];
        using var f = File.OpenRead(path);
        return f.Read(head) == 2 && (head[0] == 0 && head[1] == 0 || head[0] == 0x1f && head[1] == 0x8b);
    }

    static IEnumerable<(string, float[])> ReadIdx(string path, (int First, int Last)? range)
    {
        var idx = Idx.Read(path);
        var dims = idx.GetDimensions();
        if (dims.Length != 3 || dims[1] != Side || dims[2] != Side)
            throw new InvalidDataException($"'{path}' holds an IDX array of shape ({string.Join(", ", dims)}); images of {Side} x {Side} need (N, {Side}, {Side}).");
        var (first, last) = range ?? (0, dims[0] - 1);
        if (last >= dims[0]) throw new ArgumentException($"'{path}' has records 0 to {dims[0] - 1}; record {last} does not exist.");
        float[] all = idx.ToFloatArray(idx.DataType == IdxDataType.UnsignedByte ? 255f : 1f);
        var result = new List<(string, float[])>();
        for (int r = first; r <= last; r++)
            result.Add(($"{Path.GetFileName(path)}:{r}", all.AsSpan(r * Side * Side, Side * Side).ToArray()));
        return result;
    }
}

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using FashionMnistSample;
using ModelGen;

// Trains the FashionMlp (784-128-10, ReLU) or, with --model cnn, the FashionCnn (two conv/ReLU/max-pool blocks,
// then 3136-128-10) on Fashion-MNIST with code the ModelGen generator emitted, saves a checkpoint, reloads it into
// a fresh model and predicts a few test images.
//
//   dotnet run -c Release --project Samples/FashionMnist [-- --model mlp|cnn --epochs 5 --batch 64 --lr 0.002 --seed 1 --checkpoint fashion.safetensors]
//   dotnet run -c Release --project Samples/FashionMnist -- --predict fashion.safetensors   (reload and predict only)
//   --device cpu|gpu|best|N|cuda:0|gpu-emulator:0   where to train and predict (default cpu; best = a GPU when there is one)

int epochs = 5, batch = 64, seed = 1;
string modelName = "mlp";
float lr = 2e-3f;
string checkpoint = "fashion.safetensors";
string? predictOnly = null;
string deviceName = "cpu";
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--model": modelName = Next(); break;
        case "--epochs": epochs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--batch": batch = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--lr": lr = float.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--seed": seed = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--checkpoint": checkpoint = Next(); break;
        case "--predict": predictOnly = Next(); break;
        case "--device": deviceName = Next(); break;
        default:
            Console.Error.WriteLine($"Unknown argument '{args[i]}'. Options: --model mlp|cnn --epochs N --batch N --lr X --seed N --checkpoint PATH --predict PATH --device cpu|gpu|best|N");
            return 2;
    }
}

if (modelName is not ("mlp" or "cnn"))
{
    Console.Error.WriteLine($"Unknown model '{modelName}'. Options: --model mlp (default) or --model cnn");
    return 2;
}
bool cnn = modelName == "cnn";
Device device;
try
{
    string why = "";
    device = deviceName == "best" ? Device.Best(out why) : Device.Parse(deviceName);
    Console.WriteLine(why.Length > 0 ? $"Device: {device} ({why})." : $"Device: {device}.");
}
catch (DeviceException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
// The MLP reads flat 784-pixel rows; the CNN reads (1, 28, 28) images.
ModelBase NewModel(int modelSeed) => cnn ? new FashionCnn(modelSeed) : new FashionMlp(modelSeed);
int[] imageShape = cnn ? new[] { 1, 28, 28 } : new[] { 784 };

DatasetPair data;
try
{
    data = cnn ? FashionMnist.LoadImages() : FashionMnist.Load();
}
catch (FileNotFoundException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
// Pixels in [0, 1] standardized with the training set's mean and deviation (both sets alike).
var (mean, std) = data.Train.FeatureStatistics();
data.Train.Standardize(mean, std);
data.Test.Standardize(mean, std);
Console.WriteLine($"Fashion-MNIST: {data.Train.Count:N0} training and {data.Test.Count:N0} test images (pixel mean {mean:F4}, std {std:F4}). SIMD: {ModelGen.Cpu.CpuFeatures.Active}, threads: {ModelGen.Cpu.CpuFeatures.Threads}.");

if (predictOnly == null)
{
    var model = NewModel(seed);
    model.To(device);
    // AdamW (weight decay 0.01) with the learning rate annealed along a cosine over the whole run.
    var optimizer = new AdamW(lr) { Schedule = new CosineDecay(CosineDecay.StepsFor(data.Train.Count, batch, epochs)) };
    Console.WriteLine($"{model.GetType().Name}: {model.Parameters.ScalarCount:N0} parameters. Training {epochs} epochs, batch {batch}, AdamW(lr {lr}, cosine decay).");
    var clock = Stopwatch.StartNew();
    model.Fit(data.Train, epochs, batchSize: batch, optimizer: optimizer, validation: data.Test, seed: seed);
    var result = model.Evaluate(data.Test);
    Console.WriteLine($"Test accuracy {result.Accuracy:F4}, loss {result.Loss:F4} after {clock.Elapsed.TotalSeconds:F1} s.");
    // The normalisation goes into the checkpoint's metadata, so an app (Samples/Classify) can prepare its inputs alike.
    model.Save(checkpoint, new Dictionary<string, string>
    {
        ["preprocess.mean"] = mean.ToString("R", CultureInfo.InvariantCulture),
        ["preprocess.std"] = std.ToString("R", CultureInfo.InvariantCulture),
        ["recipe"] = $"{modelName}, {epochs} epochs, batch {batch}, AdamW lr {lr.ToString(CultureInfo.InvariantCulture)} cosine, seed {seed}",
        ["test.accuracy"] = (result.Accuracy ?? double.NaN).ToString("F4", CultureInfo.InvariantCulture),
    });
    Console.WriteLine($"Saved {checkpoint}.");
    predictOnly = checkpoint;
}

// A fresh model with other initial weights, restored from the checkpoint.
var restored = NewModel(12345);
restored.To(device);
restored.Load(predictOnly);
var check = restored.Evaluate(data.Test);
Console.WriteLine($"Reloaded {predictOnly}: test accuracy {check.Accuracy:F4}.");
for (int i = 0; i < 5; i++)
{
    var image = new Tensor(data.Test.Sample(i), imageShape);
    int predicted = restored.Predict(image).ArgMax();
    int actual = data.Test.Labels![i];
    Console.WriteLine($"  test image {i}: predicted {FashionMnist.ClassNames[predicted],-12} actual {FashionMnist.ClassNames[actual]}");
}
return 0;

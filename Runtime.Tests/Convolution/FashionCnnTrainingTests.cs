using System;
using System.Diagnostics;
using ModelGen.Runtime.Tests.Compiled;
using Xunit;
using Xunit.Abstractions;
using static ModelGen.Ops;

namespace ModelGen.Runtime.Tests.Convolution;

/// <summary>The sample's CNN (two conv/ReLU/max-pool blocks, 3136-128-10), compiled in this test assembly.</summary>
[Model]
public partial class FashionCnnUnderTest
{
    readonly Conv2d conv1 = new(1, 32, 3, padding: 1);
    readonly MaxPool2d pool1 = new(2);
    readonly Conv2d conv2 = new(32, 64, 3, padding: 1);
    readonly MaxPool2d pool2 = new(2);
    readonly Linear hidden = new(64 * 7 * 7, 128);
    readonly Linear output = new(128, 10);

    [Forward]
    public Tensor Forward([Shape(1, 28, 28)] Tensor image)
    {
        var x = pool1.Forward(Relu(conv1.Forward(image)));
        x = pool2.Forward(Relu(conv2.Forward(x)));
        return output.Forward(Relu(hidden.Forward(Flatten(x))));
    }

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

/// <summary>
/// Real CNN training on the real Fashion-MNIST images (the sample's recipe: standardized pixels, batch 64,
/// AdamW(2e-3) with cosine decay): one epoch over the first 12,000 training images must reach 0.83 test accuracy
/// on all 10,000 test images (measured with seed 1 on AVX-512: 0.852, mean training loss 0.610, about 25 s on the
/// 2-core CI machine under load). A broken convolution or pooling gradient stays far below.
/// </summary>
public class FashionCnnTrainingTests
{
    readonly ITestOutputHelper _output;

    public FashionCnnTrainingTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void OneEpochOnTwelveThousandImagesReachesEightyThreePercent()
    {
        var data = FashionMnist.LoadImages();
        var (mean, std) = data.Train.FeatureStatistics();
        data.Train.Standardize(mean, std);
        data.Test.Standardize(mean, std);
        var train = data.Train.Take(12000);
        var model = new FashionCnnUnderTest(seed: 1);
        var optimizer = new AdamW(2e-3f) { Schedule = new CosineDecay(CosineDecay.StepsFor(train.Count, 64, 1)) };
        var clock = Stopwatch.StartNew();
        var history = model.Fit(train, epochs: 1, batchSize: 64, optimizer: optimizer, seed: 1, verbose: false);
        var result = model.Evaluate(data.Test);
        _output.WriteLine($"test accuracy {result.Accuracy:F4}, train loss {history[0].TrainLoss:F4}, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(result.Accuracy >= 0.83, $"test accuracy {result.Accuracy:F4} after one epoch on 12,000 images is below 0.83");
        Assert.True(history[0].TrainLoss < 0.8, $"mean training loss {history[0].TrainLoss:F4} is above 0.8");
    }
}

using ModelGen;
using static ModelGen.Ops;

namespace ModelGen.Benchmarks;

/// <summary>
/// The Fashion-MNIST CNN of the sample (Samples/FashionMnist/FashionCnn.cs), compiled here: two blocks of 3x3
/// convolution (padding 1), ReLU and 2x2 max pooling (1x28x28 → 32x14x14 → 64x7x7), then 3136 → 128 (ReLU) → 10.
/// </summary>
[Model]
public partial class BenchCnn
{
    readonly Conv2d conv1 = new(1, 32, 3, padding: 1);
    readonly MaxPool2d pool1 = new(2);
    readonly Conv2d conv2 = new(32, 64, 3, padding: 1);
    readonly MaxPool2d pool2 = new(2);
    readonly Linear hidden = new(64 * 7 * 7, 128);
    readonly Linear output = new(128, 10);

    /// <summary>Class scores (logits) for a batch of 28x28 grayscale images.</summary>
    [Forward]
    public Tensor Forward([Shape(1, 28, 28)] Tensor image)
    {
        var x = pool1.Forward(Relu(conv1.Forward(image)));
        x = pool2.Forward(Relu(conv2.Forward(x)));
        return output.Forward(Relu(hidden.Forward(Flatten(x))));
    }

    /// <summary>Mean softmax cross-entropy of the logits against the labels.</summary>
    [Loss]
    public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

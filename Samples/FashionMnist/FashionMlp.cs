using ModelGen;
using static ModelGen.Ops;

namespace FashionMnistSample;

/// <summary>A multilayer perceptron for Fashion-MNIST: 784 pixels → 128 hidden units (ReLU) → 10 classes.</summary>
[Model]
public partial class FashionMlp
{
    readonly Linear hidden = new(784, 128);
    readonly Linear output = new(128, 10);

    /// <summary>Class scores (logits) for a batch of flattened 28x28 images.</summary>
    [Forward]
    public Tensor Forward([Shape(784)] Tensor image) => output.Forward(Relu(hidden.Forward(image)));

    /// <summary>Mean softmax cross-entropy of the logits against the labels.</summary>
    [Loss]
    public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

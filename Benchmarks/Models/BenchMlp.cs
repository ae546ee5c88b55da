using ModelGen;
using static ModelGen.Ops;

namespace ModelGen.Benchmarks;

/// <summary>The Fashion-MNIST MLP of the sample (Samples/FashionMnist/FashionMlp.cs), 784 → 128 (ReLU) → 10, compiled here.</summary>
[Model]
public partial class BenchMlp
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

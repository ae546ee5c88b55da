using ModelGen;
using static ModelGen.Ops;

// Small CNNs at odd sizes, compiled by the generator in this test assembly: every op of the Convolution family
// with a parameter before it, so that each backward rule is exercised through a parameter gradient.
namespace ModelGen.Runtime.Tests.Compiled;

/// <summary>
/// Conv2d with stride 2 and padding 1, a stride-1 convolution whose input gradient runs col2im, ReLU, max pooling
/// with padding, Flatten, Linear.
/// </summary>
[Model]
public partial class SmallCnnModel
{
    readonly Conv2d conv = new(3, 5, 3, stride: 2, padding: 1);
    readonly Conv2d mid = new(5, 5, 3, padding: 1);
    readonly MaxPool2d pool = new(3, stride: 2, padding: 1);
    readonly Linear output = new(5 * 3 * 2, 4);

    // (3, 9, 7) → conv (5, 5, 4) → mid (5, 5, 4) → pool (5, 3, 2) → 30 → 4
    [Forward]
    public Tensor Forward([Shape(3, 9, 7)] Tensor x) =>
        output.Forward(Flatten(pool.Forward(Relu(mid.Forward(Relu(conv.Forward(x)))))));

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

/// <summary>Grouped, dilated and depthwise convolutions, average pooling with padding, global average pooling.</summary>
[Model]
public partial class GroupedCnnModel
{
    readonly Conv2d grouped = new(4, 6, 3, padding: 2, dilation: 2, groups: 2);
    readonly Conv2d depthwise = new(6, 6, 3, stride: 2, groups: 6, bias: false);
    readonly AvgPool2d pool = new(2, stride: 1, padding: 1);
    readonly Conv2d pointwise = new(6, 7, 1);
    readonly Linear output = new(7, 3);

    // (4, 8, 9) → grouped (6, 8, 9) → depthwise (6, 3, 4) → avg (6, 4, 5) → pointwise (7, 4, 5) → global (7) → 3
    [Forward]
    public Tensor Forward([Shape(4, 8, 9)] Tensor x)
    {
        var h = Tanh(grouped.Forward(x));
        h = pool.Forward(depthwise.Forward(h));
        return output.Forward(GlobalAvgPool(Sigmoid(pointwise.Forward(h))));
    }

    [Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);
}

/// <summary>Layout ops: Reshape, Transpose, Permute, Concat and Slice between convolutions and a linear layer.</summary>
[Model]
public partial class LayoutModel
{
    readonly Conv2d conv = new(2, 3, 3, padding: 1);
    [Parameter(5, Init = Init.HeUniform)] public partial Tensor Mix { get; }
    readonly Linear output = new(69, 4);

    // (2, 5, 3) → conv (3, 5, 3)
    [Forward]
    public Tensor Forward([Shape(2, 5, 3)] Tensor x)
    {
        var c = conv.Forward(x);                              // (3, 5, 3)
        var t = Transpose(c, 1, 2);                           // (3, 3, 5)
        var m = t * Mix;                                      // (3, 3, 5), scaled along the last axis
        var p = Permute(m, 2, 0, 1);                          // (5, 3, 3)
        var both = Concat(Slice(p, 0, 1, 3), Reshape(c, 5, 3, 3), 0); // (3 + 5, 3, 3)
        var r = Reshape(both, -1, 9);                         // (8, 9)
        var tail = Concat(Flatten(r), Slice(Flatten(m), 0, 2, 3), 0); // (72 + 3)
        return output.Forward(Slice(tail, 0, 6, 69));                  // (69) → 4
    }

    [Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
}

using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// Shape errors of the Convolution family: MG0002 at the exact call, naming the layer or op and both shapes;
/// invalid layer arguments: MG0009 at the <c>new</c> expression.
/// </summary>
public class ConvolutionDiagnosticTests
{
    const string Loss = "[Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);";

    static Diagnostic Expect(string id, string marked, params string[] messageContains) => DiagnosticTests.Expect(id, marked, messageContains);

    [Fact]
    public void Conv2dWithWrongInChannels() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly Conv2d conv1 = new(1, 8, 3, padding: 1);
            readonly Conv2d conv2 = new(16, 4, 3);
            [Forward]
            public Tensor Forward([Shape(1, 12, 12)] Tensor x) => GlobalAvgPool([|conv2.Forward(Relu(conv1.Forward(x)))|]);
            {{Loss}}
        }
        """, "conv2.Forward(Relu(conv1.Forward(x)))", "Conv2d", "(B, 8, 12, 12)", "(4, 16, 3, 3)", "(B, 16, H, W)");

    [Fact]
    public void Conv2dOnFlatInput() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly Conv2d conv = new(1, 8, 3);
            [Forward] public Tensor Forward([Shape(784)] Tensor x) => Flatten([|conv.Forward(x)|]);
            {{Loss}}
        }
        """, "conv.Forward(x)", "(B, 784)", "(B, 1, H, W)");

    [Fact]
    public void ImageSmallerThanTheWindow() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly Conv2d conv = new(2, 3, 5, dilation: 2);
            [Forward] public Tensor Forward([Shape(2, 6, 6)] Tensor x) => Flatten([|conv.Forward(x)|]);
            {{Loss}}
        }
        """, "Conv2d", "(B, 2, 6, 6)", "5x5", "dilation 2");

    [Fact]
    public void FlattenedSizeDoesNotFitTheLinearLayer() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly Conv2d conv = new(1, 4, 3, padding: 1);
            readonly MaxPool2d pool = new(2);
            readonly Linear fc = new(4 * 7 * 7, 10);
            [Forward] public Tensor Forward([Shape(1, 28, 28)] Tensor x) => [|fc.Forward(Flatten(pool.Forward(conv.Forward(x))))|];
            {{Loss}}
        }
        """, "(B, 784)", "196");

    [Fact]
    public void ConcatOfMismatchedShapes() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly Conv2d a = new(1, 4, 3);
            readonly Conv2d b = new(1, 4, 3, padding: 1);
            [Forward] public Tensor Forward([Shape(1, 9, 9)] Tensor x) => GlobalAvgPool([|Concat(a.Forward(x), b.Forward(x), 0)|]);
            {{Loss}}
        }
        """, "Concat", "(B, 4, 7, 7)", "(B, 4, 9, 9)");

    [Fact]
    public void ReshapeToTheWrongSize() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(12, 10);
            [Forward] public Tensor Forward([Shape(3, 5)] Tensor x) => fc.Forward([|Reshape(x, 12)|]);
            {{Loss}}
        }
        """, "Reshape", "(B, 3, 5)", "15");

    [Fact]
    public void GroupsThatDoNotDivideTheChannels() => Expect("MG0009", $$"""
        [Model]
        public partial class Net
        {
            readonly Conv2d conv = [|new(6, 4, 3, groups: 4)|];
            [Forward] public Tensor Forward([Shape(6, 5, 5)] Tensor x) => GlobalAvgPool(conv.Forward(x));
            {{Loss}}
        }
        """, "groups 4", "6 input", "4 output");
}

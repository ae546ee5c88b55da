using System.Collections.Generic;
using System.IO;

namespace ModelGen.Generator.Tests;

/// <summary>The model sources whose generated code is kept as golden files, each as a user would write it.</summary>
public static class SampleModels
{
    /// <summary>Exactly the Fashion-MNIST sample of the repository.</summary>
    public static string FashionMlp => File.ReadAllText(Path.Combine(GeneratorHarness.RepositoryRoot, "Samples", "FashionMnist", "FashionMlp.cs"));

    /// <summary>Exactly the Fashion-MNIST CNN sample of the repository.</summary>
    public static string FashionCnn => File.ReadAllText(Path.Combine(GeneratorHarness.RepositoryRoot, "Samples", "FashionMnist", "FashionCnn.cs"));

    /// <summary>Theano style: raw [Parameter] tensors, MatMul, operators and Tanh.</summary>
    public const string ParameterMlp = """
        using ModelGen;
        using static ModelGen.Ops;

        namespace Samples;

        [Model]
        public partial class ParameterMlp
        {
            [Parameter(784, 128, Init = Init.HeUniform)] public partial Tensor W1 { get; }
            [Parameter(128, Init = Init.Zeros)] public partial Tensor B1 { get; }
            [Parameter(128, 10, Init = Init.XavierUniform)] public partial Tensor W2 { get; }
            [Parameter(10, Init = Init.Zeros)] public partial Tensor B2 { get; }

            [Forward]
            public Tensor Forward([Shape(784)] Tensor x)
            {
                var h = Tanh(MatMul(x, W1) + B1);
                return MatMul(h, W2) + B2;
            }

            [Loss]
            public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
        }
        """;

    /// <summary>A user [Module] with a Linear and a [Parameter] scale, repeated three times, run by a constant-bound loop.</summary>
    public const string ResidualNet = """
        using ModelGen;
        using static ModelGen.Ops;

        namespace Samples;

        [Module]
        public partial class Block
        {
            readonly Linear linear;

            [Parameter(64, Init = Init.Ones)] public partial Tensor Scale { get; }

            public Block(int width) { linear = new Linear(width, width); }

            [Forward]
            public Tensor Forward(Tensor x) => x + Relu(linear.Forward(x)) * Scale;
        }

        [Model]
        public partial class ResidualNet
        {
            readonly Linear input = new(784, 64);
            readonly Block[] blocks = Repeat(3, () => new Block(64));
            readonly Linear head = new(64, 10);

            [Forward]
            public Tensor Forward([Shape(784)] Tensor image)
            {
                var x = Relu(input.Forward(image));
                for (int i = 0; i < blocks.Length; i++) x = blocks[i].Forward(x);
                return head.Forward(x);
            }

            [Loss]
            public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);
        }
        """;

    /// <summary>Regression against a Tensor target with mean squared error.</summary>
    public const string HousePrices = """
        using ModelGen;
        using static ModelGen.Ops;

        namespace Samples;

        [Model]
        public partial class HousePrices
        {
            readonly Linear hidden = new(13, 32);
            readonly Linear output = new(32, 1);

            [Forward]
            public Tensor Forward([Shape(13)] Tensor features) => output.Forward(Sigmoid(hidden.Forward(features)));

            [Loss]
            public Tensor Loss(Tensor prediction, Tensor target) => MeanSquaredError(prediction, target);
        }
        """;

    /// <summary>Softmax, LogSoftmax, Sum, Mean, Sigmoid, Exp, Log, Square, division and unary minus.</summary>
    public const string OpsZoo = """
        using ModelGen;
        using static ModelGen.Ops;

        namespace Samples;

        [Model]
        public partial class OpsZoo
        {
            readonly Linear proj = new(16, 8);

            [Forward]
            public Tensor Forward([Shape(16)] Tensor x)
            {
                var h = proj.Forward(x);
                var p = Softmax(h);
                var lp = LogSoftmax(h, axis: 0);
                var s = Sum(Square(h), 0, keepDims: true);
                var m = Mean(Exp(-h), axis: -1, keepDims: true);
                var g = Sigmoid(h) / (s + 1f);
                return p * Log(g + 1f) - lp / (m + 2f);
            }

            [Loss]
            public Tensor Loss(Tensor prediction, Tensor target) => Mean(Square(prediction - target)) + 0.01f * Sum(Square(prediction));
        }
        """;

    /// <summary>Normalization family: BatchNorm1d, Dropout and LeakyReLU in a classifier trained with label smoothing.</summary>
    public const string NormMlp = """
        using ModelGen;
        using static ModelGen.Ops;

        namespace Samples;

        [Model]
        public partial class NormMlp
        {
            readonly Linear hidden = new(784, 128, bias: false);
            readonly BatchNorm1d norm = new(128);
            readonly Dropout drop = new(0.2);
            readonly Linear output = new(128, 10);

            [Forward]
            public Tensor Forward([Shape(784)] Tensor image) => output.Forward(drop.Forward(LeakyRelu(norm.Forward(hidden.Forward(image)))));

            [Loss]
            public Tensor Loss(Tensor logits, Labels labels) => CrossEntropy(logits, labels, labelSmoothing: 0.1);
        }
        """;

    /// <summary>Name and source of every golden model.</summary>
    public static IEnumerable<object[]> All => new[]
    {
        new object[] { "FashionMlp" },
        new object[] { "ParameterMlp" },
        new object[] { "ResidualNet" },
        new object[] { "HousePrices" },
        new object[] { "OpsZoo" },
        new object[] { "NormMlp" },
        new object[] { "CharTransformer" },
        new object[] { "CharLstm" },
        new object[] { "FashionCnn" },
    };

    public static string Get(string name) => name switch
    {
        "FashionMlp" => FashionMlp,
        "ParameterMlp" => ParameterMlp,
        "ResidualNet" => ResidualNet,
        "HousePrices" => HousePrices,
        "OpsZoo" => OpsZoo,
        "NormMlp" => NormMlp,
        "CharTransformer" => SequenceSamples.CharTransformer,
        "CharLstm" => SequenceSamples.CharLstm,
        "FashionCnn" => FashionCnn,
        _ => throw new KeyNotFoundException(name),
    };
}

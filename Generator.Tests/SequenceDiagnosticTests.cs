using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>The sequence family's shape errors: the diagnostic (and nothing else) at the exact marked span, naming the shapes.</summary>
public class SequenceDiagnosticTests
{
    static Diagnostic Expect(string id, string marked, params string[] messageContains) => DiagnosticTests.Expect(id, marked, messageContains);

    const string Loss = "[Loss] public Tensor Loss(Tensor y, Tensor target) => MeanSquaredError(y, target);";

    [Fact]
    public void MG0009_AttentionDimNotDivisibleByHeads() => Expect("MG0009", $$"""
        [Model]
        public partial class Net
        {
            readonly MultiHeadAttention attention = [|new(10, 3)|];
            [Forward] public Tensor Forward([Shape(5, 10)] Tensor x) => attention.Forward(x);
            {{Loss}}
        }
        """, "dim 10", "3 heads");

    [Fact]
    public void MG0002_AttentionOnTheWrongWidth() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly MultiHeadAttention attention = new(12, 4, causal: true);
            [Forward] public Tensor Forward([Shape(5, 10)] Tensor x) => [|attention.Forward(x)|];
            {{Loss}}
        }
        """, "attention.Forward(x)", "(B, 5, 10)", "(B, T, 12)");

    [Fact]
    public void MG0002_LstmOnTheWrongInputWidth() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly LSTM lstm = new(8, 16);
            [Forward] public Tensor Forward([Shape(5, 7)] Tensor x) => Tanh([|lstm.Forward(x)|]);
            {{Loss}}
        }
        """, "lstm.Forward(x)", "(B, 5, 7)", "(B, T, 8)");

    [Fact]
    public void MG0002_LayerNormOnTheWrongWidth() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly LayerNorm norm = new(6);
            [Forward] public Tensor Forward([Shape(3, 5)] Tensor x) => [|norm.Forward(x)|];
            {{Loss}}
        }
        """, "(B, 3, 5)", "6");

    [Fact]
    public void MG0002_CrossEntropyOfDifferentShapes() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            [Parameter(4, 6)] public partial Tensor W { get; }
            [Forward] public Tensor Forward([Shape(3, 4)] Tensor x) => MatMul(x, W);
            [Loss] public Tensor Loss(Tensor y, Tensor target) => [|SequenceCrossEntropy(Gelu(y), Sum(target, 1, keepDims: true))|];
        }
        """, "SequenceCrossEntropy", "(B, 3, 6)", "(B, 3, 1)");
}

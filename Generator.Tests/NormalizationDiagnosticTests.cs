using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>Diagnostics of the Normalization and Losses families: at the exact marked span, naming the op and the shapes.</summary>
public class NormalizationDiagnosticTests
{
    static Diagnostic Expect(string id, string marked, params string[] messageContains) => DiagnosticTests.Expect(id, marked, messageContains);

    [Fact]
    public void BatchNormWithTheWrongFeatureCount() => Expect("MG0002", """
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 6);
            readonly BatchNorm1d norm = new(5);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => [|norm.Forward(fc.Forward(x))|];
        }
        """, "(B, 6)", "BatchNorm1d expects (B, 5)");

    [Fact]
    public void BatchNorm2dOnAMatrix() => Expect("MG0002", """
        [Model]
        public partial class Net
        {
            readonly BatchNorm2d norm = new(3);
            [Forward] public Tensor Forward([Shape(3)] Tensor x) => [|norm.Forward(x)|];
        }
        """, "(B, 3)", "(B, 3, H, W)");

    [Fact]
    public void LossShapesDiffer() => Expect("MG0002", """
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 6);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
            [Loss] public Tensor Loss(Tensor y, Tensor t) => [|HuberLoss(y, Sum(t, 0), 2.0)|];
        }
        """, "HuberLoss", "(B, 6)", "(B)");

    [Fact]
    public void DropoutProbabilityOutOfRange() => Expect("MG0009", """
        [Model]
        public partial class Net
        {
            readonly Dropout drop = [|new(1.5)|];
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => drop.Forward(x);
        }
        """, "p in [0, 1]");
}

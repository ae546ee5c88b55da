using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// The constants the generator reads from a model's source (dropout rate, BatchNorm and LayerNorm epsilon and momentum,
/// LeakyReLU slope, label smoothing, Huber delta, the scalars of tensor arithmetic) are accepted as double literals (<c>0.1</c>, as a PyTorch user types
/// them) and as float literals (<c>0.1f</c>), and both fold to the same generated code, which compiles without warnings.
/// </summary>
public class DoubleLiteralTests
{
    static string Source(string f) => DiagnosticTests.Usings + $$"""
        [Model]
        public partial class Classifier
        {
            readonly Linear hidden = new(6, 10, bias: false);
            readonly BatchNorm1d norm = new(10, 1e-5{{f}}, 0.1{{f}});
            readonly Dropout drop = new(0.1{{f}});
            readonly Linear output = new(10, 3);
            [Forward] public Tensor Forward([Shape(6)] Tensor x) => output.Forward(drop.Forward(LeakyRelu(norm.Forward(hidden.Forward(x)), 0.01{{f}})));
            [Loss] public Tensor Loss(Tensor logits, Labels labels) => CrossEntropy(logits, labels, 0.1{{f}});
        }

        [Model]
        public partial class Regressor
        {
            readonly Linear hidden = new(6, 8);
            readonly LayerNorm norm = new(8, 1e-6{{f}});
            readonly Linear output = new(8, 2);
            [Forward] public Tensor Forward([Shape(6)] Tensor x) => output.Forward(LeakyRelu(norm.Forward(hidden.Forward(0.5{{f}} * x - 0.25{{f}})), 0.2{{f}}) / 1.5{{f}} + 0.125{{f}});
            [Loss] public Tensor Loss(Tensor y, Tensor target) => HuberLoss(y, target, 0.3{{f}});
        }
        """;

    static string[] Generate(string suffix)
    {
        var result = GeneratorHarness.RunChecked(Source(suffix));
        Assert.True(result.Diagnostics.IsEmpty, $"'{suffix}' literals: {result.DiagnosticsText}");
        var csharp = result.Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(csharp.Count == 0, $"'{suffix}' literals: the generated code has C# diagnostics:\n{string.Join("\n", csharp)}");
        return result.Sources.OrderBy(s => s.HintName).Select(s => s.SourceText.ToString()).ToArray();
    }

    [Fact]
    public void Double_and_float_literals_fold_to_the_same_generated_code()
    {
        var withDoubles = Generate("");
        var withFloats = Generate("f");
        Assert.Equal(2, withDoubles.Length);
        Assert.Equal(withFloats.Length, withDoubles.Length);
        for (int i = 0; i < withDoubles.Length; i++)
            Assert.Equal(withFloats[i], withDoubles[i]);
        // The folded constants are float literals in the kernels' calls.
        Assert.Contains("0.1f", withDoubles[0]);
        Assert.Contains("0.3f", withDoubles[1]);
    }
}

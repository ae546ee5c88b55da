using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace ModelGen.Generator.Tests;

/// <summary>
/// One test per error class: the generator reports the diagnostic (and nothing else, C# included) at the exact marked span
/// <c>[|...|]</c>, with a message that says what is wrong, and never throws.
/// </summary>
public class DiagnosticTests
{
    internal const string Usings = "using System;\nusing ModelGen;\nusing static ModelGen.Ops;\n\n";

    /// <summary>
    /// Runs the marked source and returns the one diagnostic, checked for id, severity, file, exact span and message
    /// fragments (the diagnostic tests of the op families use it too).
    /// </summary>
    internal static Diagnostic Expect(string id, string marked, params string[] messageContains)
    {
        var markup = Markup.Parse(Usings + marked);
        var result = GeneratorHarness.RunChecked(markup.Source);
        Assert.True(result.Diagnostics.Length == 1, $"expected exactly one {id}, got:\n{result.DiagnosticsText}");
        var d = result.Diagnostics[0];
        // One mistake, one error: the C# compiler (generated files included) adds nothing.
        var csharp = result.Output.GetDiagnostics().Where(x => x.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(csharp.Count == 0, $"{id} comes with C# diagnostics:\n{string.Join("\n", csharp)}");
        Assert.Equal(id, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        // A generator cannot keep syntax trees in its cached models, so its diagnostics carry file locations (path + span).
        Assert.True(d.Location.Kind is LocationKind.ExternalFile or LocationKind.SourceFile, $"{id} has no file location: {d.Location.Kind}");
        Assert.Equal("Model.cs", d.Location.GetLineSpan().Path);
        Assert.True(markup.Span == d.Location.SourceSpan,
            $"{id} at '{markup.Source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length)}' {d.Location.SourceSpan}, expected '{markup.SpanText}' {markup.Span}");
        string message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var fragment in messageContains) Assert.Contains(fragment, message);
        Assert.DoesNotContain("MG0011", result.DiagnosticsText);
        return d;
    }

    const string Loss = "[Loss] public Tensor Loss(Tensor logits, Labels labels) => SoftmaxCrossEntropy(logits, labels);";

    [Fact]
    public void MG0001_ModelNotPartial() => Expect("MG0001", $$"""
        [Model]
        public class [|Net|]
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
        }
        """, "'Net' must be declared partial");

    [Fact]
    public void MG0001_ContainingClassNotPartial() => Expect("MG0001", $$"""
        public class Outer
        {
            [Model]
            public partial class [|Net|]
            {
                readonly Linear fc = new(4, 2);
                [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
            }
        }
        """, "'Outer' must be declared partial");

    [Fact]
    public void MG0002_LinearAppliedToWrongInputSize() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear hidden = new(784, 128);
            [Forward] public Tensor Forward([Shape(100)] Tensor image) => Relu([|hidden.Forward(image)|]);
            {{Loss}}
        }
        """, "hidden.Forward(image)", "(B, 100)", "784");

    [Fact]
    public void MG0002_AddOfIncompatibleShapes() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear a = new(5, 10);
            readonly Linear b = new(5, 3);
            [Forward]
            public Tensor Forward([Shape(5)] Tensor x)
            {
                var ya = a.Forward(x);
                var yb = b.Forward(x);
                return [|ya + yb|];
            }
            {{Loss}}
        }
        """, "(B, 10)", "(B, 3)", "Add");

    [Fact]
    public void MG0002_LossNotScalar() => Expect("MG0002", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
            [Loss] public Tensor [|Loss|](Tensor y, Tensor target) => Square(y - target);
        }
        """, "(B, 2)", "scalar");

    [Fact]
    public void MG0003_MethodOutsideOps() => Expect("MG0003", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            static Tensor Twice(Tensor t) => t + t;
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward([|Twice|](x));
            {{Loss}}
        }
        """, "'Twice'", "'Net.Twice' cannot be compiled");

    [Fact]
    public void MG0004_IfOnTensor() => Expect("MG0004", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward]
            public Tensor Forward([Shape(4)] Tensor x)
            {
                if ([|x.Rank > 1|]) x = Relu(x);
                return fc.Forward(x);
            }
            {{Loss}}
        }
        """, "if (x.Rank > 1)", "cannot branch");

    [Fact]
    public void MG0004_WhileLoop() => Expect("MG0004", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 4);
            [Forward]
            public Tensor Forward([Shape(4)] Tensor x)
            {
                int i = 0;
                [|while (i < 3) { x = fc.Forward(x); i++; }|]
                return x;
            }
            {{Loss}}
        }
        """, "while (i < 3)", "constant bounds");

    [Fact]
    public void MG0004_ForWithFieldBound() => Expect("MG0004", $$"""
        [Model]
        public partial class Net
        {
            readonly int depth = 3;
            readonly Linear fc = new(4, 4);
            [Forward]
            public Tensor Forward([Shape(4)] Tensor x)
            {
                for (int i = 0; i < [|depth|]; i++) x = fc.Forward(x);
                return x;
            }
            {{Loss}}
        }
        """, "'depth'", "make it 'const'");

    /// <summary>C# itself rejects comparing an int with a tensor; that error is the only one.</summary>
    [Fact]
    public void ForWithTensorBoundIsCSharpsErrorOnly() => OneErrorTests.ExpectOnly("CS0019", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 4);
            [Forward]
            public Tensor Forward([Shape(4)] Tensor x)
            {
                var h = fc.Forward(x);
                for (int i = 0; [|i < Sum(h)|]; i++) x = fc.Forward(x);
                return x;
            }
            {{Loss}}
        }
        """, "'<'");

    [Fact]
    public void MG0005_MissingForward() => Expect("MG0005", $$"""
        [Model]
        public partial class [|Net|]
        {
            readonly Linear fc = new(4, 2);
            public Tensor Forward(Tensor x) => fc.Forward(x);
        }
        """, "'Net' has no method marked [Forward]");

    [Fact]
    public void MG0005_ModuleWithoutForward()
    {
        var markup = Markup.Parse(Usings + """
            [Module]
            public partial class [|Block|]
            {
                readonly Linear fc = new(4, 4);
            }
            """);
        var result = GeneratorHarness.RunChecked(markup.Source);
        var d = Assert.Single(result.Diagnostics);
        Assert.Equal("MG0005", d.Id);
        Assert.Equal(markup.Span, d.Location.SourceSpan);
        Assert.Contains("'Block' has no method marked [Forward]", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void MG0006_ZeroShape() => Expect("MG0006", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([[|Shape(0)|]] Tensor x) => fc.Forward(x);
        }
        """, "'x'", "(0)");

    [Fact]
    public void MG0006_NegativeShape() => Expect("MG0006", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([[|Shape(4, -3)|]] Tensor x) => fc.Forward(x);
        }
        """, "(4, -3)", "positive");

    [Fact]
    public void MG0006_ModelInputWithoutShape() => Expect("MG0006", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward(Tensor [|x|]) => fc.Forward(x);
        }
        """, "[Shape(784)]");

    [Fact]
    public void MG0007_ParameterNotPartial() => Expect("MG0007", $$"""
        [Model]
        public partial class Net
        {
            [Parameter(4, 2)] public Tensor [|W|] { get; } = null!;
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => MatMul(x, W);
        }
        """, "'W'", "partial");

    [Fact]
    public void MG0007_ParameterWrongType() => Expect("MG0007", $$"""
        [Model]
        public partial class Net
        {
            [Parameter(4, 2)] public partial float[] [|W|] { get; }
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
        }
        """, "'W'", "Tensor");

    [Fact]
    public void MG0007_ParameterZeroDimension() => Expect("MG0007", $$"""
        [Model]
        public partial class Net
        {
            [[|Parameter(4, 0)|]] public partial Tensor W { get; }
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => MatMul(x, W);
        }
        """, "'W'", "(4, 0)");

    [Fact]
    public void MG0008_ForwardNotReturningTensor() => Expect("MG0008", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public [|float|] Forward([Shape(4)] Tensor x) => 0f;
        }
        """, "'Forward'", "must return Tensor");

    [Fact]
    public void MG0008_ForwardWithStringParameter() => Expect("MG0008", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x, string [|name|]) => fc.Forward(x);
        }
        """, "'name'", "string");

    [Fact]
    public void MG0008_ModelForwardWithTwoInputs() => Expect("MG0008", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor [|Forward|]([Shape(4)] Tensor x, [Shape(4)] Tensor y) => fc.Forward(x + y);
        }
        """, "exactly one Tensor input");

    [Fact]
    public void MG0008_LossWithOneParameter() => Expect("MG0008", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
            [Loss] public Tensor [|Loss|](Tensor y) => Mean(y);
        }
        """, "target");

    [Fact]
    public void MG0008_TwoForwardMethods() => Expect("MG0008", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
            [Forward] public Tensor [|Other|]([Shape(4)] Tensor x) => fc.Forward(x);
        }
        """, "one [Forward] method");

    [Fact]
    public void MG0009_LayerWithNonConstantArgument() => Expect("MG0009", $$"""
        [Model]
        public partial class Net
        {
            static int Width() => 4;
            readonly Linear hidden = new([|Width()|], 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => hidden.Forward(x);
        }
        """, "'hidden'", "constant");

    [Fact]
    public void MG0009_ModuleContainingItself() => Expect("MG0009", $$"""
        [Module]
        public partial class Loop
        {
            readonly Loop inner = [|new Loop()|];
            [Forward] public Tensor Forward(Tensor x) => inner.Forward(x);
        }
        [Model]
        public partial class Net
        {
            readonly Loop loop = new();
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => loop.Forward(x);
        }
        """, "contain itself");

    [Fact]
    public void MG0010_ModelDerivingFromAnotherClass() => Expect("MG0010", $$"""
        public class Base { }
        [Model]
        public partial class [|Net|] : Base
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
        }
        """, "'Base'", "ModelBase");

    [Fact]
    public void MG0010_UserSeedConstructor() => Expect("MG0010", $$"""
        [Model]
        public partial class Net
        {
            readonly Linear fc = new(4, 2);
            public [|Net|](int width) { }
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
        }
        """, "constructor");

    [Fact]
    public void MG0010_StaticModel()
    {
        // A static class has no instance [Forward] either, so MG0005 comes with it; MG0010 says why.
        var markup = Markup.Parse(Usings + """
            [Model]
            public static partial class [|Net|]
            {
            }
            """);
        var result = GeneratorHarness.RunChecked(markup.Source);
        var d = Assert.Single(result.Diagnostics, x => x.Id == "MG0010");
        Assert.Equal(markup.Span, d.Location.SourceSpan);
        Assert.Contains("static", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
        Assert.All(result.Diagnostics, x => Assert.Contains(x.Id, new[] { "MG0010", "MG0005" }));
    }

    [Fact]
    public void MG0010_GenericModel() => Expect("MG0010", $$"""
        [Model]
        public partial class [|Net|]<T>
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
        }
        """, "generic");

    [Fact]
    public void MG0007_InvalidParameterOfRepeatedModuleIsReportedOnce() => OneErrorTests.ExpectOnly("MG0007", """
        [Module]
        public partial class Block
        {
            [[|Parameter(0)|]] public partial Tensor Scale { get; }
            [Forward] public Tensor Forward(Tensor x) => x * Scale;
        }
        [Model]
        public partial class Net
        {
            readonly Block[] blocks = Repeat(3, () => new Block());
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => blocks[0].Forward(x);
        }
        """, "'Scale'"); // once: by the module's own output, not by the model nor per repetition

    [Fact]
    public void MG0010_ModelAndModuleAtOnce() => Expect("MG0010", $$"""
        [Model, Module]
        public partial class [|Net|]
        {
            readonly Linear fc = new(4, 2);
            [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x);
        }
        """, "not both");

    [Fact]
    public void ModelAttributeOnTwoPartsIsCompiledOnce()
    {
        // C# itself reports the duplicate attribute (CS0579); the generator must not add the same file twice.
        var result = GeneratorHarness.RunChecked(Usings + """
            [Model] public partial class Net { readonly Linear fc = new(4, 2); }
            [Model] public partial class Net { [Forward] public Tensor Forward([Shape(4)] Tensor x) => fc.Forward(x); }
            """);
        Assert.True(result.Diagnostics.IsEmpty, result.DiagnosticsText);
        Assert.Single(result.Sources);
    }

    [Fact]
    public void DiagnosticIdsAreTheDocumentedOnes()
    {
        var ids = typeof(ModelGen.Generator.Diagnostics).GetFields()
            .Select(f => f.GetValue(null)).OfType<DiagnosticDescriptor>().Select(d => d.Id).OrderBy(i => i).ToList();
        Assert.Equal(Enumerable.Range(1, 12).Select(i => $"MG{i:D4}"), ids);
        foreach (var id in ids) Assert.Equal(id, ModelGen.Generator.Diagnostics.ById(id).Id);
    }
}
